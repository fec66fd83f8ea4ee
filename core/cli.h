#ifndef SL_CLI_H
#define SL_CLI_H
int sl_cli_main(int argc, char **argv);
#endif
