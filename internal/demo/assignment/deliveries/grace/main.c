/* Partial credit: parses digits by hand and ignores minus signs. */
#include <ctype.h>
#include <stdio.h>

int main(void)
{
	long long sum = 0, cur = 0;
	int c, in_number = 0;

	while ((c = getchar()) != EOF) {
		if (isdigit(c)) {
			cur = cur * 10 + (c - '0');
			in_number = 1;
		} else if (in_number) {
			sum += cur;
			cur = 0;
			in_number = 0;
		}
	}
	if (in_number)
		sum += cur;
	printf("%lld\n", sum);
	return 0;
}
