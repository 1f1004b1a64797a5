/* `pushbind app add|list|remove`: manage apps in the store the server uses. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "auth/auth.h"
#include "cli/options.h"

/* SecretKey: TPNS issues 32 hex digits; we take any printable key of a useful length. */
#define PB_SECRET_MIN_BYTES 16
#define PB_SECRET_MAX_BYTES 128
#define SECRET_RULE "16 to 128 printable ASCII characters" /* the two above, for messages */

typedef struct app_settings {
    const char *data_dir;
    const char *url;
    uint64_t access_id;
    const char *secret_key; /* NULL: generate one */
} app_settings;

/* --secret-key: checked here, never echoed. */
static const char *parse_secret_key(const char *text, void *field)
{
    size_t len = strlen(text);
    bool printable = len >= PB_SECRET_MIN_BYTES && len <= PB_SECRET_MAX_BYTES;
    for (size_t i = 0; printable && i < len; i++)
        printable = (unsigned char)text[i] >= 0x21 && (unsigned char)text[i] <= 0x7e;
    if (!printable)
        return "must be " SECRET_RULE;
    *(const char **)field = text;
    return NULL;
}

static int check_store_flags(const pb_command *command, void *settings)
{
    const app_settings *s = settings;
    return pb_cli_check_store_flags(command->name, s->data_dir, s->url);
}

static int app_add(pb_store_session *session, const void *arg)
{
    const app_settings *args = arg;
    char generated[33];
    const char *secret = args->secret_key;
    if (secret == NULL) {
        if (pb_cli_random_secret(generated) != 0)
            return PB_EXIT_FAILURE;
        secret = generated;
    }
    bool created;
    if (pb_store_app_put(session, args->access_id, pb_str_from_cstr(secret), &created) != PB_STORE_OK) {
        fprintf(stderr, "pushbind: cannot save app %llu: %s\n", (unsigned long long)args->access_id,
                pb_store_session_error(session));
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

static int app_list(pb_store_session *session, const void *arg)
{
    printf("%-18s  %-20s  %s\n", "ACCESS_ID", "CREATED", "BINDINGS");
    if (pb_store_app_list(session, print_app, NULL) != PB_STORE_OK) {
        fprintf(stderr, "pushbind: cannot list apps: %s\n", pb_store_session_error(session));
        return PB_EXIT_FAILURE;
    }
    return PB_EXIT_OK;
}

static int app_remove(pb_store_session *session, const void *arg)
{
    const app_settings *args = arg;
    uint64_t removed = 0;
    switch (pb_store_app_remove(session, args->access_id, &removed)) {
    case PB_STORE_OK:
        printf("removed app %llu (%llu bindings)\n", (unsigned long long)args->access_id, (unsigned long long)removed);
        return PB_EXIT_OK;
    case PB_STORE_ENOTFOUND:
        fprintf(stderr, "pushbind: no app %llu\n", (unsigned long long)args->access_id);
        return PB_EXIT_FAILURE;
    default:
        fprintf(stderr, "pushbind: cannot remove app %llu: %s\n", (unsigned long long)args->access_id,
                pb_store_session_error(session));
        return PB_EXIT_FAILURE;
    }
}

static int in_session(const app_settings *s, int (*act)(pb_store_session *session, const void *arg))
{
    return pb_cli_with_session(s->data_dir, s->url, act, s);
}

static int run_add(void *settings)
{
    return in_session(settings, app_add);
}

static int run_list(void *settings)
{
    return in_session(settings, app_list);
}

static int run_remove(void *settings)
{
    return in_session(settings, app_remove);
}

#define S app_settings
static const pb_setting add_rows[] = {
    PB_CLI_ROW_DATA(S, data_dir, false),
    PB_CLI_ROW_STORE(S, url),
    PB_CLI_ROW_ACCESS_ID(S, access_id, "the app: 1 to 18 decimal digits"),
    {.name = "secret-key", .arg = "KEY", .type = PB_SETTING_CUSTOM, .offset = offsetof(S, secret_key),
     .parse = parse_secret_key, .help = SECRET_RULE,
     .default_text = "a random 32-hex-digit key, printed once"},
};
static const pb_setting list_rows[] = {
    PB_CLI_ROW_DATA(S, data_dir, false),
    PB_CLI_ROW_STORE(S, url),
};
static const pb_setting remove_rows[] = {
    PB_CLI_ROW_DATA(S, data_dir, false),
    PB_CLI_ROW_STORE(S, url),
    PB_CLI_ROW_ACCESS_ID(S, access_id, "the app"),
};
#undef S

/* Said under each command's flags: the server sees what the command changed. */
#define APP_OUTRO "\nThe server may keep running: changes are visible to its next request.\n"

static const pb_command add_command = {
    .name = "app add",
    .summary = "create an app, or replace its secret key",
    .intro = "usage: pushbind app add (--data DIR | --store URL) --access-id ID [--secret-key KEY]\n"
             "\n"
             "Creates the app, or replaces its secret key. Without --secret-key a random\n"
             "32-hex-digit key is generated and printed once.\n"
             "\n",
    .outro = APP_OUTRO,
    PB_ROWS(add_rows),
    .takes_config = true,
    .check = check_store_flags,
    .run = run_add,
};

static const pb_command list_command = {
    .name = "app list",
    .summary = "list apps, when each was made, its bindings",
    .intro = "usage: pushbind app list (--data DIR | --store URL)\n"
             "\n"
             "Lists apps: access id, creation time, number of bindings (never secrets).\n"
             "\n",
    PB_ROWS(list_rows),
    .takes_config = true,
    .check = check_store_flags,
    .run = run_list,
};

static const pb_command remove_command = {
    .name = "app remove",
    .summary = "remove an app and every binding it holds",
    .intro = "usage: pushbind app remove (--data DIR | --store URL) --access-id ID\n"
             "\n"
             "Removes the app and every binding it holds.\n"
             "\n",
    .outro = APP_OUTRO,
    PB_ROWS(remove_rows),
    .takes_config = true,
    .check = check_store_flags,
    .run = run_remove,
};

static const pb_command *const app_commands[] = {&add_command, &list_command, &remove_command};

static const pb_command_group app_group = {
    .name = "app",
    .intro = "usage: pushbind app COMMAND (--data DIR | --store URL) [options]\n"
             "\n"
             "Manages the apps in the store the server uses (--store URL: Redis or PostgreSQL, as for\n"
             "'pushbind serve'). The server may keep running: changes are visible to its\n"
             "next request.\n"
             "\n",
    .commands = app_commands,
    .n = sizeof(app_commands) / sizeof(app_commands[0]),
};

int pb_cli_app(int argc, char **argv)
{
    app_settings s = {0};
    return pb_command_group_run(&app_group, argc, argv, &s);
}
