"""The papers' printed statements used by the NTK claims, each with its source."""

# Du et al. 2019 (ICLR), Lemma 3.1 and its proof: ‖H(0) − H∞‖ concentrates at rate O(m^-1/2) (Hoeffding over the
# m i.i.d. neurons); Assumption 3.1: λ0 = λ_min(H∞) > 0 for non-parallel inputs (Theorem 3.1).
GRAM_RATE = -0.5
GRAM_STATEMENT = "‖H(0) − H∞‖ = O(m^-1/2): log-log slope −0.5; λ0 = λ_min(H∞) > 0"
