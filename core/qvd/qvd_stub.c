/* Placeholder until the QVD codec lands (issue 3). */
#include "qvd.h"

#include <stdio.h>

int sl_cli_qvd(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "sluice qvd: not built yet\n");
    return 2;
}
