/* The client commands of the ferry executable. Each takes the arguments after "ferry", so
 * argv[0] is the command name ("upload"), and returns the process exit status:
 * 0 success, 1 some upload failed, 2 usage error, 130 interrupted (Ctrl-C). */
#ifndef FY_CLI_CLI_H
#define FY_CLI_CLI_H

int fy_cli_upload_main(int argc, char **argv);
int fy_cli_status_main(int argc, char **argv);
int fy_cli_resume_main(int argc, char **argv);

#endif
