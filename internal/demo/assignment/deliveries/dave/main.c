/* Crash: writes through a null pointer before printing (SIGSEGV). */
#include <stdio.h>

int main(void)
{
	long long sum = 0, x;
	volatile long long *result = NULL;

	while (scanf("%lld", &x) == 1)
		sum += x;
	*result = sum;
	printf("%lld\n", *result);
	return 0;
}
