#include <stdio.h>

int main(void) {
	char name[100];
	if (scanf("%99s", name) != 1)
		return 0;
	volatile unsigned long n = 0;
	for (;;)
		n++;
}
