def number(s):
    try:
        return int(s)
    except ValueError:
        return float(s)


a, b = input().split()
print(number(a) + number(b))
