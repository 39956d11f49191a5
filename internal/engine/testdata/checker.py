# Accepts the exact sum, gives half credit for an answer off by at most one.
import sys

_, expected_path, actual_path = sys.argv[1:4]
expected = open(expected_path).read().strip()
actual = open(actual_path).read().strip()
if actual == expected:
    sys.exit(0)
try:
    if abs(float(actual) - float(expected)) <= 1:
        print("points: 0.5")
        print("close, but not exact")
        sys.exit(1)
except ValueError:
    pass
print("wrong answer")
sys.exit(1)
