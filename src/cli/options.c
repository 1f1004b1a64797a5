#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "api/api.h"
#include "auth/auth.h"
#include "cli/options.h"

int pb_cli_usage_error(const char *command, const char *format, ...)
{
    va_list args;
    fprintf(stderr, "pushbind %s: ", command);
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fprintf(stderr, " (see 'pushbind %s --help')\n", command);
    return PB_EXIT_USAGE;
}

int pb_cli_parse_uint(const char *text, uint64_t min, uint64_t max, uint64_t *value)
{
    if (text == NULL || !isdigit((unsigned char)text[0]))
        return -1;
    errno = 0;
    char *end;
    unsigned long long parsed = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || parsed < min || parsed > max)
        return -1;
    *value = parsed;
    return 0;
}

int pb_cli_parse_listen(const char *text, char **host, uint16_t *port)
{
    const char *colon = strrchr(text, ':');
    if (colon == NULL || colon == text)
        return -1;
    const char *host_start = text, *host_end = colon;
    if (text[0] == '[') { /* [::1]:8080 */
        if (colon[-1] != ']')
            return -1;
        host_start = text + 1;
        host_end = colon - 1;
    }
    uint64_t parsed;
    if (host_end == host_start || pb_cli_parse_uint(colon + 1, 0, 65535, &parsed) != 0)
        return -1;
    *host = strndup(host_start, (size_t)(host_end - host_start));
    *port = (uint16_t)parsed;
    return *host == NULL ? -1 : 0;
}

int pb_cli_check_store_flags(const char *command, const char *data_dir, const char *url)
{
    if (data_dir == NULL && url == NULL)
        return pb_cli_usage_error(command, "--data DIR or --store URL is required");
    if (data_dir != NULL && url != NULL)
        return pb_cli_usage_error(command, "--data and --store exclude each other");
    return PB_EXIT_OK;
}

pb_store *pb_cli_open_store(const char *data_dir, const char *url, uint64_t map_size_mib,
                            const pb_store_limits *limits, int64_t binding_ttl_seconds, pb_metrics *metrics)
{
    pb_store_config config = {
        .metrics = metrics,
        .binding_ttl_seconds = binding_ttl_seconds,
        .url = url,
        .data_dir = data_dir,
        .map_size = map_size_mib * 1024 * 1024,
        .limits = *limits,
    };
    char *err = NULL;
    pb_store *store = pb_store_open(&config, &err);
    if (store == NULL) {
        fprintf(stderr, "pushbind: cannot open the store %s: %s\n", url != NULL ? "at" : "in",
                err != NULL ? err : "unknown error");
        free(err);
    }
    return store;
}

const char *pb_cli_parse_access_id(const char *text, void *field)
{
    return pb_auth_parse_access_id(pb_str_from_cstr(text), field) == 0 ? NULL : "not 1 to 18 decimal digits";
}

int pb_cli_with_session(const char *data_dir, const char *url, int (*run)(pb_store_session *session, const void *arg),
                        const void *arg)
{
    pb_store_limits limits = {PB_DEFAULT_MAX_ACCOUNTS_PER_TOKEN, PB_DEFAULT_MAX_TOKENS_PER_ACCOUNT};
    pb_store *store = pb_cli_open_store(data_dir, url, PB_DEFAULT_MAP_SIZE_MIB, &limits, 0, NULL);
    if (store == NULL)
        return PB_EXIT_FAILURE;
    int exit_code = PB_EXIT_FAILURE;
    pb_store_session *session = pb_store_session_open(store);
    if (session == NULL) {
        fprintf(stderr, "pushbind: cannot open a store session\n");
    } else {
        exit_code = run(session, arg);
        pb_store_session_close(session);
    }
    pb_store_close(store);
    return exit_code;
}

int pb_cli_run_tool(void *settings)
{
    const pb_cli_tool_args *args = settings;
    char *err = NULL;
    pb_store_limits limits = {PB_DEFAULT_MAX_ACCOUNTS_PER_TOKEN, PB_DEFAULT_MAX_TOKENS_PER_ACCOUNT};
    if (args->act_pg != NULL) {
        int usage = pb_cli_check_store_flags(args->command, args->data_dir, args->store_url);
        if (usage != PB_EXIT_OK)
            return usage;
    }
    if (args->store_url != NULL) {
        if (!pb_pg_tool_url_is(args->store_url))
            return pb_cli_usage_error(args->command, "--store takes a postgresql:// URL here");
        pb_pg_tool *tool = pb_pg_tool_open(args->store_url, &limits, &err);
        if (tool == NULL) {
            fprintf(stderr, "pushbind: cannot open the store at %s\n", err != NULL ? err : "unknown error");
            free(err);
            return PB_EXIT_FAILURE;
        }
        int exit_code = args->act_pg(tool, args);
        pb_pg_tool_close(tool);
        return exit_code;
    }
    pb_lmdb_tool_config config = {
        .data_dir = args->data_dir,
        .map_size = (uint64_t)PB_DEFAULT_MAP_SIZE_MIB * 1024 * 1024,
        .limits = limits,
    };
    pb_lmdb_tool *tool = pb_lmdb_tool_open(&config, &err);
    if (tool == NULL) {
        fprintf(stderr, "pushbind: cannot open the store in %s: %s\n", args->data_dir, err);
        free(err);
        return PB_EXIT_FAILURE;
    }
    int exit_code = args->act(tool, args);
    pb_lmdb_tool_close(tool);
    return exit_code;
}

int pb_cli_random_secret(char out[33])
{
    unsigned char random[16];
    if (RAND_bytes(random, sizeof(random)) != 1) {
        fprintf(stderr, "pushbind: cannot generate a secret key\n");
        return -1;
    }
    for (size_t i = 0; i < sizeof(random); i++)
        snprintf(out + 2 * i, 3, "%02x", random[i]);
    OPENSSL_cleanse(random, sizeof(random));
    return 0;
}
