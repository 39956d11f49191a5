/* Infinite loop: at end of input scanf keeps failing and the loop never ends. */
#include <stdio.h>

int main(void)
{
	long long sum = 0, x;

	for (;;) {
		if (scanf("%lld", &x) != 1)
			continue;
		sum += x;
	}
	printf("%lld\n", sum);
	return 0;
}
