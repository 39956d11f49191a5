#include <ctype.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
	char name[100];
	if (scanf("%99s", name) != 1)
		return 0;
	if (argc > 1 && strcmp(argv[1], "--shout") == 0) {
		for (char *p = name; *p; p++)
			*p = (char)toupper((unsigned char)*p);
		printf("HELLO, %s!\n", name);
	} else {
		printf("Hello, %s!\n", name);
	}
	return 0;
}
