/* Wrong answer: the sum starts at 1, so every case is off by one. */
#include <stdio.h>

int main(void)
{
	long long sum = 1, x;

	while (scanf("%lld", &x) == 1)
		sum += x;
	printf("%lld\n", sum);
	return 0;
}
