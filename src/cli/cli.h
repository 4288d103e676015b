/* cli: the `airlock` command's verbs. Each returns the process exit status. */
#pragma once

int cmd_run(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
/* The client verbs: they talk to a running daemon over its REST API. */
int cmd_sessions(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_files(int argc, char **argv);
int cmd_commands(int argc, char **argv);
int cmd_keys(int argc, char **argv);
int cmd_tenants(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_secrets(int argc, char **argv);
int cmd_interpreters(int argc, char **argv);
/* `runtimes build` runs here as root; `ls` and `get` ask the daemon. */
int cmd_runtimes(int argc, char **argv);
/* The MCP server over stdio: a bridge to the daemon's /mcp. */
int cmd_mcp(int argc, char **argv);
