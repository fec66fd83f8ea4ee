#include "cli.h"

#include "qvd/qvd.h"

#include <sluice/plugin.h>
#include <stdio.h>
#include <string.h>

int sl_cli_main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "version") == 0) {
        printf("sluice %s (plugin ABI %d)\n", SL_VERSION, SL_PLUGIN_ABI_MAJOR);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "qvd") == 0)
        return sl_cli_qvd(argc - 1, argv + 1);
    fprintf(stderr, "usage: sluice version|qvd ...\n");
    return 2;
}
