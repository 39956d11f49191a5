#include <stdio.h>

int main(void) {
	char name[100];
	if (scanf("%99s", name) != 1)
		goto done;
	printf("Hello, %s!\n", name);
done:
	return 0;
}
