import glob
import os

# Looks everywhere it can for the expected answers and the worker's secrets.
found = []
for pattern in ["tests/*", "*.out", "checker.py", "/tmp/zinc-checker-*/*", "../*/expected"]:
    for path in glob.glob(pattern):
        try:
            with open(path) as f:
                found.append(path + "=" + f.read())
        except OSError:
            pass
secret = os.environ.get("ZINC_TEST_SECRET")
if secret:
    found.append("secret=" + secret)
print("LEAK " + repr(found) if found else "0")
