# Accepts the exact sum, gives half credit for an answer off by at most one.
# Credit goes to the verdict file named by $ZINC_VERDICT; stdout is feedback.
import os, sys

_, expected_path, actual_path = sys.argv[1:4]
expected = open(expected_path).read().strip()
actual = open(actual_path).read().strip()
if actual == expected:
    sys.exit(0)
try:
    if abs(float(actual) - float(expected)) <= 1:
        with open(os.environ["ZINC_VERDICT"], "w") as v:
            v.write("points: 0.5\n")
        print("close, but not exact")
        sys.exit(0)
except ValueError:
    pass
print("wrong answer")
sys.exit(1)
