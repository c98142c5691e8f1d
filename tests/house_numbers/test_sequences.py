import itertools

import numpy as np
import tensorflow as tf

from dcn_keras.house_numbers import sequences


def _one_hot_digits(sequence, sure=0.9):
    """[1, 5, 11] digit probabilities: `sure` on each digit (10 after the sequence)."""
    rows = []
    for i in range(5):
        target = sequence[i] if i < len(sequence) else 10
        row = np.full(11, (1 - sure) / 10)
        row[target] = sure
        rows.append(row)
    return tf.constant([rows], tf.float32)


def test_probabilities_split_length_and_digits():
    logits = tf.random.stateless_normal([2, 3, 4, 60], seed=[1, 2])
    length, digits = sequences.probabilities(logits)
    assert length.shape == (2, 3, 4, 5) and digits.shape == (2, 3, 4, 5, 11)
    np.testing.assert_allclose(tf.reduce_sum(digits, -1), 1.0, atol=1e-5)
    np.testing.assert_allclose(digits[0, 0, 0, 1], tf.nn.softmax(logits[0, 0, 0, 16:27]),
                               atol=1e-6)


def test_best_sequence_reads_a_clear_prediction():
    length = tf.constant([[0.05, 0.1, 0.8, 0.03, 0.02]])
    n, digits = sequences.best_sequence(length, _one_hot_digits([4, 0, 7]))
    assert int(n[0]) == 3 and digits.numpy().tolist() == [[4, 0, 7, 10, 10]]


def test_best_sequence_maximises_the_trained_likelihood():
    # Every sequence of lengths 1..3: the decoded one has the highest log p(S | x) of them.
    logits = tf.random.stateless_normal([6, 3 * 12], seed=[5, 6]) * 2.0
    length, digits = sequences.probabilities(logits, max_length=3)
    n, read = sequences.best_sequence(length, digits)
    candidates = [(k, list(s) + [10] * (3 - k)) for k in (1, 2, 3)
                  for s in itertools.product(range(10), repeat=k)]
    lengths, targets = (tf.constant(column) for column in zip(*candidates))
    for b in range(6):
        # All 1,110 candidates scored in one call, a row each (rows are independent).
        scores = sequences.sequence_log_probability(
            tf.repeat(length[b:b + 1], len(candidates), 0),
            tf.repeat(digits[b:b + 1], len(candidates), 0), lengths, targets).numpy()
        best = candidates[int(np.argmax(scores))]
        assert (int(n[b]), read.numpy()[b].tolist()) == best


def test_an_average_of_mostly_uniform_positions_keeps_the_number_length():
    # One position of five reads "40"; the others are uniform, as a window that cuts no
    # number is trained to be. Eq. 9's factors alone prefer "4", since p(S0 = 1) beats
    # p(S0 = 2) times the diluted second digit: log .162 > log .352 + log .253. The "no
    # digit" factor of S2 (.075) makes "40" the more probable reading.
    sure = _one_hot_digits([4, 0])
    uniform = tf.fill([1, 5, 11], 1 / 11)
    digits = 0.2 * sure + 0.8 * uniform
    length = 0.2 * tf.constant([[0.01, 0.96, 0.01, 0.01, 0.01]]) + 0.8 * tf.fill([1, 5], 0.2)
    n, read = sequences.best_sequence(length, digits)
    assert int(n[0]) == 2 and read.numpy()[0].tolist() == [4, 0, 10, 10, 10]
    eq_9 = np.log(length[0].numpy()) + np.cumsum(np.log(digits[0, :, :10].numpy().max(-1)))
    assert int(np.argmax(eq_9)) + 1 == 1


def test_sequence_log_probability_follows_equation_9_with_no_digit_targets():
    logits = tf.random.stateless_normal([1, 60], seed=[3, 4])
    length, digits = sequences.probabilities(logits)
    targets = tf.constant([[2, 9, 10, 10, 10]])
    expected = np.log(length[0, 1]) + sum(np.log(digits[0, i, int(targets[0, i])])
                                          for i in range(5))
    log_p = sequences.sequence_log_probability(length, digits, tf.constant([2]), targets)
    np.testing.assert_allclose(log_p, [expected], rtol=1e-5)


def test_soft_attention_follows_the_confident_position():
    confident = _one_hot_digits([3], sure=0.99)
    uniform = tf.fill([1, 5, 11], 1 / 11)
    digits = tf.reshape(tf.concat([confident, uniform, uniform, uniform], 0), [1, 2, 2, 5, 11])
    length = tf.reshape(tf.constant([[0.96, .01, .01, .01, .01]] + [[0.2] * 5] * 3),
                        [1, 2, 2, 5])
    _, soft = sequences.soft_attention(length, digits)
    _, mean = sequences.average_pool(length, digits)
    assert float(soft[0, 0, 3]) > 0.9 > float(mean[0, 0, 3])
    weights = sequences.inverse_entropy_weights(digits, [1, 2])
    np.testing.assert_allclose(tf.reduce_sum(weights, [1, 2]), 1.0, atol=1e-5)


def test_digit_entropy_and_sequence_errors():
    uniform = tf.fill([1, 5, 11], 1 / 11)
    np.testing.assert_allclose(sequences.digit_entropy(uniform), [5 * np.log(11)],
                               rtol=1e-5)
    wrong = sequences.sequence_errors(tf.constant([2, 2, 3]),
                                        tf.constant([[1, 2, 10], [1, 3, 10], [1, 2, 10]]),
                                        tf.constant([2, 2, 2]),
                                        tf.constant([[1, 2, 10], [1, 2, 10], [1, 2, 10]]))
    assert wrong.numpy().tolist() == [False, True, True]


def test_distance_to_uniform_is_the_kl_divergence_from_uniform_softmaxes():
    uniform = (tf.fill([1, 5], 0.2), tf.fill([1, 5, 11], 1 / 11))
    np.testing.assert_allclose(sequences.distance_to_uniform(*uniform), [0.0], atol=1e-5)
    rng = np.random.default_rng(0)
    length = rng.dirichlet(np.ones(5), size=2).astype(np.float32)
    digits = rng.dirichlet(np.ones(11), size=(2, 5)).astype(np.float32)
    expected = (-np.log(length).mean(-1) - np.log(5)
                + (-np.log(digits).mean(-1) - np.log(11)).sum(-1))
    np.testing.assert_allclose(sequences.distance_to_uniform(length, digits), expected,
                               rtol=1e-5)
    assert (expected > 0).all()


def _prediction(sequence, sure):
    """([1, 5] length, [1, 5, 11] digit) probabilities reading `sequence` with `sure`."""
    length = np.full(5, (1 - sure) / 4)
    length[len(sequence) - 1] = sure
    return tf.constant([length], tf.float32), _one_hot_digits(sequence, sure)


def test_sequence_vote_sums_the_probability_of_each_read_sequence():
    # Two picks read "37" fairly surely, one reads "7" very surely, and one invalid pick
    # reads "99" most surely of all.
    reads = [_prediction([3, 7], 0.9), _prediction([3, 7], 0.9), _prediction([7], 0.93),
             _prediction([9, 9], 0.99)]
    length = tf.stack([r[0][0] for r in reads])[None]
    digits = tf.stack([r[1][0] for r in reads])[None]
    p = [float(tf.exp(sequences.sequence_log_probability(
        r[0], r[1], tf.constant([n]), tf.constant([s]))[0]))
        for r, n, s in zip(reads, (2, 2, 1), ([3, 7, 10, 10, 10],) * 2 + ([7, 10, 10, 10, 10],))]
    assert 2 * p[0] > p[2] > p[0]  # "7" is the surest valid pick, "37" has more votes
    valid = tf.constant([[1.0, 1.0, 1.0, 0.0]])
    out_length, out_digits = sequences.sequence_vote(length, digits, valid)
    n, read = sequences.best_sequence(out_length, out_digits)
    assert int(n[0]) == 2 and read.numpy()[0].tolist() == [3, 7, 10, 10, 10]
    # The output is the mean of the picks that voted for the winner.
    np.testing.assert_allclose(out_digits[0], digits[0, 0], rtol=1e-5)
    # Invalid picks do not vote: without the two "37" picks, "99" wins.
    n, read = sequences.best_sequence(*sequences.sequence_vote(
        length, digits, tf.constant([[0.0, 0.0, 1.0, 1.0]])))
    assert read.numpy()[0].tolist() == [9, 9, 10, 10, 10]


def test_sequence_vote_groups_equal_reads_within_each_example_only():
    # Picks drawn from few sequences, so that many agree, in several examples at once.
    rng = np.random.default_rng(0)
    pool = [[3, 7], [7], [3, 7, 1], [9]]
    picks = [[pool[i] for i in rng.integers(0, len(pool), 9)] for _ in range(3)]
    sure = rng.uniform(0.6, 0.95, (3, 9))
    reads = [[_prediction(p, s) for p, s in zip(row, ss)] for row, ss in zip(picks, sure)]
    length = tf.constant([[r[0][0].numpy() for r in row] for row in reads])
    digits = tf.constant([[r[1][0].numpy() for r in row] for row in reads])
    valid = tf.constant(np.maximum(rng.integers(0, 2, (3, 9)), np.eye(3, 9)), tf.float32)
    out_length, out_digits = sequences.sequence_vote(length, digits, valid)
    for b in range(3):
        # The definition: each valid pick votes for its read with its probability; the
        # output is the weighted mean of the winners' predictions.
        p = np.exp(sequences.sequence_log_probability(
            length[b], digits[b], tf.constant([len(s) for s in picks[b]]),
            tf.constant([s + [10] * (5 - len(s)) for s in picks[b]])).numpy())
        p = p * valid.numpy()[b]
        votes = {}
        for read, weight in zip(map(tuple, picks[b]), p):
            votes[read] = votes.get(read, 0.0) + weight
        winner = max(votes, key=votes.get)
        agree = np.array([tuple(read) == winner for read in picks[b]]) * p
        np.testing.assert_allclose(out_digits[b], np.tensordot(agree / agree.sum(),
                                                               digits[b], 1), rtol=1e-4)
        np.testing.assert_allclose(out_length[b], agree / agree.sum() @ length[b].numpy(),
                                   rtol=1e-4)
