a, b = input().split()
print(float(a) + float(b) + 1 if "." in a + b else int(a) + int(b) + 1)
