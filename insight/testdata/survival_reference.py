# The reference figures quoted in insight/survival_test.go, from Debian's
# python3-statsmodels 0.13.5 (apt-get install python3-statsmodels):
#   /usr/bin/python3 insight/testdata/survival_reference.py [bigml.csv]
# The synthetic data is the test's lcgData: the same 64-bit LCG in both.
import sys
import numpy as np
from statsmodels.duration.survfunc import SurvfuncRight, survdiff

def lcg_data(n=300):
    state = 42
    mask = (1 << 64) - 1
    def nxt():
        nonlocal state
        state = (state * 6364136223846793005 + 1442695040888963407) & mask
        return (state >> 11) / float(1 << 53)
    t, e, g = [], [], []
    for i in range(n):
        k = i % 3
        u1, u2 = nxt(), nxt()
        t.append(1 + int(np.floor(u1 * (60 + 40 * k))))
        e.append(1 if u2 < 0.7 - 0.15 * k else 0)
        g.append(k)
    return np.array(t, float), np.array(e, float), np.array(g)

def show(name, t, e, at):
    sf = SurvfuncRight(t, e)
    lo, hi = sf.quantile_ci(0.5)
    print(name, "n", len(t), "events", int(e.sum()), "median", sf.quantile(0.5), "ci", lo, hi)
    for x in at:
        i = np.searchsorted(sf.surv_times, x, side="right") - 1
        s, se = (1.0, 0.0) if i < 0 else (sf.surv_prob[i], sf.surv_prob_se[i])
        # log-log band from statsmodels' Greenwood SE
        if 0 < s < 1:
            th = np.log(-np.log(s)); sth = se / (s * abs(np.log(s)))
            lo_, hi_ = np.exp(-np.exp(th + 1.959963984540054 * sth)), np.exp(-np.exp(th - 1.959963984540054 * sth))
        else:
            lo_, hi_ = s, s
        print("  S(%g) = %.10f se %.10f band %.10f %.10f" % (x, s, se, lo_, hi_))

t, e, g = lcg_data()
show("lcg all", t, e, [10, 30, 60])
for k in range(3):
    show("lcg group %d" % k, t[g == k], e[g == k], [10, 30])
chi2, p = survdiff(t, e, g)
print("lcg logrank 3 groups chi2 %.10f p %.10g" % (chi2, p))
m = g < 2
chi2, p = survdiff(t[m], e[m], g[m])
print("lcg logrank groups 0,1 chi2 %.10f p %.10g" % (chi2, p))

if len(sys.argv) > 1:
    import csv
    rows = list(csv.DictReader(open(sys.argv[1], newline="")))
    t = np.array([float(r["Account length"]) for r in rows])
    e = np.array([1.0 if r["Churn"] == "True" else 0.0 for r in rows])
    g = np.array([r["International plan"] for r in rows])
    show("bigml all", t, e, [50, 100, 150, 200])
    for k in ("No", "Yes"):
        show("bigml intl=%s" % k, t[g == k], e[g == k], [100, 150])
    chi2, p = survdiff(t, e, g)
    print("bigml logrank intl plan chi2 %.10f p %.10g" % (chi2, p))
