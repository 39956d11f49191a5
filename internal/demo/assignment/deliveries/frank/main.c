/* Partial credit: an int sum overflows on the large case. */
#include <stdio.h>

int main(void)
{
	int sum = 0, x;

	while (scanf("%d", &x) == 1)
		sum += x;
	printf("%d\n", sum);
	return 0;
}
