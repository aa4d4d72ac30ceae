/* `ferry token`: mints an HS256 upload token, for testing and for backends written in shell. */
#ifndef FY_CLI_TOKEN_CMD_H
#define FY_CLI_TOKEN_CMD_H

/* argv holds the arguments after "token". Prints the token and a newline on stdout.
 * Returns 0 on success, 1 when the secret file cannot be read (or output fails), 2 on a usage
 * error (unknown option, invalid claim value, secret shorter than 32 bytes). */
int fy_token_main(int argc, char **argv);

#endif
