"""The papers' printed numbers and statements used by the dynamics claims, each with its source.

Sources: Bu, Xu, Chen, "A Dynamical View on Optimization Algorithms of Overparameterized Neural Networks"
(AISTATS 2021, arXiv 2010.13165) — its abstract and its official notebook (github.com/ShiyunXu/NTK_Optimizer),
whose printed outputs are quoted in /work/shared/specs/dynamics.md §1.4; Cai et al., "Gram-Gauss-Newton Method:
Learning Overparameterized Neural Networks for Regression Problems" (2019) — its abstract (dynamics.md §2).
"""

from __future__ import annotations

BU = "Bu, Xu, Chen 2021 (official notebook)"
BU_ABSTRACT = "Bu, Xu, Chen 2021 (abstract)"
CAI = "Cai et al. 2019 (abstract)"

# Du et al. / Bu et al. NTK regime: ‖H(t) − H∞‖ = O(m^-1/2) (dynamics.md §1.2), so the network's error follows
# the kernel dynamics with H∞ up to O(m^-1/2).
WIDTH_RATE = -0.5

# HB_Epoch.pdf (dynamics.md §1.4): fitted log10-loss slopes per epoch; β -> ((first, last epoch), slope).
NOTEBOOK_HB_SLOPES = {0.2: ((990, 999), -7.6e-4), 0.5: ((90, 99), -2.1e-3), 0.8: ((90, 99), -2.4e-3)}

# NAG_Epoch.pdf (dynamics.md §1.4): d -> (loss @1000, loss @5000, two-point log-log slope).
NOTEBOOK_NAG = {2: (3.0e-4, 1.5e-6, -3.3), 3: (4.6e-5, 5.5e-8, -4.2), 6: (6.3e-6, 9.3e-11, -6.9),
                8: (2.0e-5, 2.9e-12, -9.8)}

# The notebook's printed GD losses (600 MNIST, m=3000, lr 1e-4), every 100 epochs (dynamics.md §1.4, GD baseline).
NOTEBOOK_GD_PRINTED = dict(zip(range(100, 5001, 100), [
    2.2234924, 1.6855325, 1.360984, 1.1410167, 0.979374, 0.85582834, 0.75786716, 0.67798984, 0.61157966,
    0.5551818, 0.5068956, 0.46497875, 0.4281652, 0.39561322, 0.36669892, 0.3409455, 0.31779987, 0.29689628,
    0.27794072, 0.2607047, 0.24497381, 0.23058589, 0.2173759, 0.205228, 0.19396512, 0.18355498, 0.17389794,
    0.1649143, 0.15655318, 0.14878424, 0.1415073, 0.13471504, 0.1283311, 0.122349195, 0.11674694, 0.11146513,
    0.10651656, 0.10185198, 0.09743811, 0.09328677, 0.08936261, 0.08563365, 0.082116306, 0.078792, 0.07562423,
    0.072627984, 0.0697774, 0.067068525, 0.06448632, 0.062027577], strict=True))

# HB_Width.pdf (dynamics.md §1.4): loss at epoch 200 (600 MNIST, lr 5e-5) per β and width.
NOTEBOOK_WIDTHS = tuple(range(2000, 8001, 500))
HB_WIDTH_PRINTED = {
    "0.0": dict(zip(NOTEBOOK_WIDTHS, [2.195019, 2.1045213, 2.0404272, 1.9850847, 1.8996814, 1.8242241, 1.8059024,
                                      1.7468506, 1.7487049, 1.749634, 1.8361844, 1.9426382, 2.1390553], strict=True)),
    "0.6": dict(zip(NOTEBOOK_WIDTHS, [1.6006906, 1.485051, 1.438759, 1.4316329, 1.3469146, 1.2599878, 1.2935319,
                                      1.2842704, 1.3704952, 1.4430207, 1.4339505, 1.3768139, 1.9377584], strict=True)),
    "0.9": dict(zip(NOTEBOOK_WIDTHS, [0.9002468, 0.8478645, 0.80705875, 0.7498425, 0.78397095, 0.76297826,
                                      0.9056841, 0.9075012, 0.95623213, 0.9566529, 1.0716109, 1.0951848, 1.4940516],
                    strict=True)),
}
# NAG_Width_avg.pdf (dynamics.md §1.4): 10-seed average loss at epoch 200; d -> (minimum, where).
NAG_WIDTH_MINIMA = {"2": (0.085, "2000-3000"), "4": (0.161, "3000"), "10": (0.361, "5000")}
# The weakest U in the printed HB curves: an end 1.22× its minimum (β=0: 2.14/1.747 at m=8000).
WEAKEST_PRINTED_U = 1.22

HB_VALUE = ("HB: ‖e(t)‖² ≤ C exp(−2κ_HB t) with κ_HB(γ) = min_i (γ − Re√(γ² − 4λ_i))/2; notebook log10-loss "
            "slopes −7.6e-4 (β=0.2), −2.1e-3 (β=0.5), −2.4e-3 (β=0.8) per epoch")
NAG_VALUE = ("ODE: loss = O(t^-r); notebook log-log slopes between epochs 1000 and 5000 ≈ −3.3, −4.2, −6.9, −9.8 "
             "for r = 2, 3, 6, 8")
ODE_VALUE = "error dynamics → the H∞ kernel dynamics as m → ∞ (‖H(t) − H∞‖ = O(m^-1/2)), and → the ODE as η → 0"
GD_VALUE = "MSE 2.22 @100, 0.555 @1000, 0.0620 @5000 epochs"
HB_WIDTH_VALUE = ("β=0: 2.20 → min 1.747 at m=5500 → 2.14; β=0.6: min 1.260 at 4500; β=0.9: min 0.750 at 3500, "
                  "1.49 at 8000")
NAG_WIDTH_VALUE = ("d=2: min 0.085 at m=2000-3000; d=4: min 0.161 at 3000; d=10: min 0.361 at 5000; rising again "
                   "for larger m")
GGN_QUADRATIC_VALUE = "‖e_{t+1}‖ ≤ C/(λ0√m) · ‖e_t‖²: order 2, constant shrinking (at least) like m^-1/2"
GGN_SGD_VALUE = "GGN 'converges much faster and achieves better performance than SGD' (AFAD-LITE, RSNA Bone Age)"
