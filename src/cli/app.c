/* `pushbind app add|list|remove`: manage apps in the store the server uses. */
#include <getopt.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "auth/auth.h"
#include "cli/options.h"

static const char app_usage[] =
    "usage: pushbind app COMMAND (--data DIR | --store URL) [options]\n"
    "\n"
    "  add --data DIR --access-id ID [--secret-key KEY]\n"
    "        create the app, or replace its secret key; without --secret-key a random\n"
    "        32-hex-digit key is generated and printed once\n"
    "  list --data DIR\n"
    "        list apps: access id, creation time, number of bindings (never secrets)\n"
    "  remove --data DIR --access-id ID\n"
    "        remove the app and every binding it holds\n"
    "\n"
    "Every command takes --store URL (Redis or PostgreSQL, as for 'pushbind serve') instead of --data DIR.\n"
    "ID is 1 to 18 decimal digits; KEY is 16 to 128 printable ASCII characters.\n"
    "The server may keep running: changes are visible to its next request.\n";

/* SecretKey: TPNS issues 32 hex digits; we take any printable key of a useful length. */
#define PB_SECRET_MIN_BYTES 16
#define PB_SECRET_MAX_BYTES 128

typedef struct app_args {
    const char *command;
    const char *data_dir;
    const char *url;
    const char *access_id_text;
    const char *secret_key;
    uint64_t access_id;
} app_args;

static bool secret_is_valid(const char *secret)
{
    size_t len = strlen(secret);
    if (len < PB_SECRET_MIN_BYTES || len > PB_SECRET_MAX_BYTES)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)secret[i] < 0x21 || (unsigned char)secret[i] > 0x7e)
            return false;
    return true;
}

/* Parses the flags after `app COMMAND`. Returns PB_EXIT_OK, or the exit code to stop with. */
static int parse_app_args(int argc, char **argv, app_args *args, bool *help)
{
    static const struct option options[] = {
        {"data", required_argument, NULL, 'd'},
        {"store", required_argument, NULL, 's'},
        {"access-id", required_argument, NULL, 'i'},
        {"secret-key", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char context[32];
    snprintf(context, sizeof(context), "app %s", args->command);
    opterr = 0;
    optind = 1;
    int option;
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (option) {
        case 'd': args->data_dir = optarg; break;
        case 's': args->url = optarg; break;
        case 'i': args->access_id_text = optarg; break;
        case 'k': args->secret_key = optarg; break;
        case 'h': *help = true; return PB_EXIT_OK;
        default: return pb_cli_usage_error(context, "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return pb_cli_usage_error(context, "unexpected argument '%s'", argv[optind]);
    int store_flags = pb_cli_check_store_flags(context, args->data_dir, args->url);
    if (store_flags != PB_EXIT_OK)
        return store_flags;
    bool wants_id = strcmp(args->command, "list") != 0;
    if (wants_id && args->access_id_text == NULL)
        return pb_cli_usage_error(context, "--access-id ID is required");
    if (!wants_id && args->access_id_text != NULL)
        return pb_cli_usage_error(context, "--access-id is not taken by this command");
    if (args->access_id_text != NULL &&
        pb_auth_parse_access_id(pb_str_from_cstr(args->access_id_text), &args->access_id) != 0)
        return pb_cli_usage_error(context, "--access-id: '%s' is not 1 to 18 decimal digits", args->access_id_text);
    if (args->secret_key != NULL && strcmp(args->command, "add") != 0)
        return pb_cli_usage_error(context, "--secret-key is only taken by 'add'");
    if (args->secret_key != NULL && !secret_is_valid(args->secret_key))
        return pb_cli_usage_error(context, "--secret-key must be %d to %d printable ASCII characters",
                                  PB_SECRET_MIN_BYTES, PB_SECRET_MAX_BYTES);
    return PB_EXIT_OK;
}

static int app_add(pb_store_session *session, const app_args *args)
{
    char generated[33];
    const char *secret = args->secret_key;
    if (secret == NULL) {
        unsigned char random[16];
        if (RAND_bytes(random, sizeof(random)) != 1) {
            fprintf(stderr, "pushbind: cannot generate a secret key\n");
            return PB_EXIT_FAILURE;
        }
        for (size_t i = 0; i < sizeof(random); i++)
            snprintf(generated + 2 * i, 3, "%02x", random[i]);
        secret = generated;
    }
    bool created;
    if (pb_store_app_put(session, args->access_id, pb_str_from_cstr(secret), &created) != PB_STORE_OK) {
        fprintf(stderr, "pushbind: cannot save app %s: %s\n", args->access_id_text, pb_store_session_error(session));
        return PB_EXIT_FAILURE;
    }
    printf("%s app %llu\n", created ? "created" : "updated", (unsigned long long)args->access_id);
    if (args->secret_key == NULL)
        printf("secret key: %s\n(shown once: store it now; 'app add' with --secret-key sets another)\n", secret);
    return PB_EXIT_OK;
}

static void print_app(void *arg, const pb_app_info *app)
{
    char created[32];
    time_t at = (time_t)app->created_at;
    struct tm tm;
    strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&at, &tm));
    printf("%-18llu  %-20s  %llu\n", (unsigned long long)app->access_id, created, (unsigned long long)app->bindings);
}

static int app_list(pb_store_session *session)
{
    printf("%-18s  %-20s  %s\n", "ACCESS_ID", "CREATED", "BINDINGS");
    if (pb_store_app_list(session, print_app, NULL) != PB_STORE_OK) {
        fprintf(stderr, "pushbind: cannot list apps: %s\n", pb_store_session_error(session));
        return PB_EXIT_FAILURE;
    }
    return PB_EXIT_OK;
}

static int app_remove(pb_store_session *session, const app_args *args)
{
    uint64_t removed = 0;
    switch (pb_store_app_remove(session, args->access_id, &removed)) {
    case PB_STORE_OK:
        printf("removed app %llu (%llu bindings)\n", (unsigned long long)args->access_id, (unsigned long long)removed);
        return PB_EXIT_OK;
    case PB_STORE_ENOTFOUND:
        fprintf(stderr, "pushbind: no app %llu\n", (unsigned long long)args->access_id);
        return PB_EXIT_FAILURE;
    default:
        fprintf(stderr, "pushbind: cannot remove app %s: %s\n", args->access_id_text, pb_store_session_error(session));
        return PB_EXIT_FAILURE;
    }
}

static int run_app(pb_store_session *session, const void *arg)
{
    const app_args *args = arg;
    if (strcmp(args->command, "add") == 0)
        return app_add(session, args);
    if (strcmp(args->command, "list") == 0)
        return app_list(session);
    return app_remove(session, args);
}

int pb_cli_app(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(app_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? PB_EXIT_USAGE : PB_EXIT_OK;
    }
    app_args args = {.command = argv[1]};
    if (strcmp(args.command, "add") != 0 && strcmp(args.command, "list") != 0 && strcmp(args.command, "remove") != 0)
        return pb_cli_usage_error("app", "unknown command '%s'", args.command);
    bool help = false;
    int exit_code = parse_app_args(argc - 1, argv + 1, &args, &help);
    if (help) {
        fputs(app_usage, stdout);
        return PB_EXIT_OK;
    }
    if (exit_code != PB_EXIT_OK)
        return exit_code;

    return pb_cli_with_session(args.data_dir, args.url, run_app, &args);
}
