core/CMakeFiles/sluice.dir/main.c.o: /work/main/core/main.c \
 /usr/include/stdc-predef.h /work/main/core/cli.h
