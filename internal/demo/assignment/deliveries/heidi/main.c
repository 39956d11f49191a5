/* Correct, with trailing spaces and a CRLF line end, which the comparison
 * normalises away. */
#include <stdio.h>

int main(void)
{
	long long sum = 0, x;

	while (scanf("%lld", &x) == 1)
		sum += x;
	printf("%lld  \r\n", sum);
	return 0;
}
