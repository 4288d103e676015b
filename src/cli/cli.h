/* cli: the `airlock` command's verbs. Each returns the process exit status. */
#pragma once

int cmd_run(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
