/* `pushbind key add|list|revoke`: an app's named keys, each with a role and an optional expiry. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/options.h"
#include "cli/settings.h"
#include "common/clock.h"
#include "common/duration.h"

typedef enum key_role_choice { ROLE_READ = 0, ROLE_WRITE } key_role_choice;

typedef struct key_settings {
    const char *data_dir;
    const char *url;
    uint64_t access_id;
    const char *name;
    int role; /* key_role_choice */
    int64_t expires_seconds; /* 0: never */
} key_settings;

static const char *const roles[] = {[ROLE_READ] = "read", [ROLE_WRITE] = "write", NULL};

static const char *parse_name(const char *text, void *field)
{
    if (!pb_store_key_name_valid(pb_str_from_cstr(text)))
        return "must be 1 to 64 of A-Z a-z 0-9 . _ @ -";
    *(const char **)field = text;
    return NULL;
}

static const char *parse_expires(const char *text, void *field)
{
    return pb_duration_parse(text, field);
}

static int check_flags(const pb_command *command, void *settings)
{
    const key_settings *s = settings;
    return pb_cli_check_store_flags(command->name, s->data_dir, s->url);
}

/* Unix seconds as "2026-12-06T03:12:00Z", or "never" for 0. */
static const char *format_time(int64_t at, char out[32])
{
    if (at == 0)
        return "never";
    time_t t = (time_t)at;
    struct tm tm;
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    return out;
}

static int report_missing(int rc, const key_settings *args, pb_store_session *session, const char *what)
{
    if (rc == PB_STORE_ENOTFOUND && args->name != NULL && strcmp(what, "revoke") == 0)
        fprintf(stderr, "pushbind: app %llu has no key named %s\n", (unsigned long long)args->access_id, args->name);
    else if (rc == PB_STORE_ENOTFOUND)
        fprintf(stderr, "pushbind: no app %llu\n", (unsigned long long)args->access_id);
    else
        fprintf(stderr, "pushbind: cannot %s key: %s\n", what, pb_store_session_error(session));
    return PB_EXIT_FAILURE;
}

/* The new key goes alone on the last line of stdout, for scripts to take. */
static int key_add(pb_store_session *session, const void *arg)
{
    const key_settings *args = arg;
    char secret[33];
    if (pb_cli_random_secret(secret) != 0)
        return PB_EXIT_FAILURE;
    int64_t now = pb_clock_unix_s();
    pb_app_key key = {
        .name = pb_str_from_cstr(args->name),
        .secret = pb_str_from_cstr(secret),
        .role = args->role == ROLE_READ ? PB_KEY_READ : PB_KEY_WRITE,
        .created_at = now,
        .expires_at = args->expires_seconds != 0 ? now + args->expires_seconds : 0,
    };
    int rc = pb_store_key_put(session, args->access_id, &key);
    if (rc != PB_STORE_OK)
        return report_missing(rc, args, session, "add");
    char expires[32];
    printf("added key %s (%s) to app %llu, expires %s\n", args->name, roles[args->role],
           (unsigned long long)args->access_id, format_time(key.expires_at, expires));
    printf("(shown once: store it now; it is a SecretKey of AccessId %llu)\n%s\n",
           (unsigned long long)args->access_id, secret);
    return PB_EXIT_OK;
}

static void print_key(void *arg, const pb_app_key *key)
{
    char created[32], expires[32];
    int64_t now = *(const int64_t *)arg;
    bool expired = key->expires_at != 0 && key->expires_at <= now;
    printf("%-24.*s  %-5s  %-20s  %s%s\n", (int)key->name.len, key->name.base,
           key->role == PB_KEY_READ ? "read" : "write", format_time(key->created_at, created),
           format_time(key->expires_at, expires), expired ? " (expired)" : "");
}

static int key_list(pb_store_session *session, const void *arg)
{
    const key_settings *args = arg;
    int64_t now = pb_clock_unix_s();
    printf("%-24s  %-5s  %-20s  %s\n", "NAME", "ROLE", "CREATED", "EXPIRES");
    int rc = pb_store_key_list(session, args->access_id, print_key, &now);
    return rc == PB_STORE_OK ? PB_EXIT_OK : report_missing(rc, args, session, "list");
}

static int key_revoke(pb_store_session *session, const void *arg)
{
    const key_settings *args = arg;
    int rc = pb_store_key_revoke(session, args->access_id, pb_str_from_cstr(args->name));
    if (rc != PB_STORE_OK)
        return report_missing(rc, args, session, "revoke");
    printf("revoked key %s of app %llu\n", args->name, (unsigned long long)args->access_id);
    return PB_EXIT_OK;
}

static int run_add(void *settings)
{
    const key_settings *s = settings;
    return pb_cli_with_session(s->data_dir, s->url, key_add, s);
}

static int run_list(void *settings)
{
    const key_settings *s = settings;
    return pb_cli_with_session(s->data_dir, s->url, key_list, s);
}

static int run_revoke(void *settings)
{
    const key_settings *s = settings;
    return pb_cli_with_session(s->data_dir, s->url, key_revoke, s);
}

#define S key_settings
#define NAME_ROW                                                                                                       \
    {.name = "name", .arg = "NAME", .type = PB_SETTING_CUSTOM, .offset = offsetof(S, name), .parse = parse_name,     \
     .help = "the key's name: 1 to 64 of A-Z a-z 0-9 . _ @ -", .required = true}
static const pb_setting add_rows[] = {
    PB_CLI_ROW_DATA(S, data_dir, false),
    PB_CLI_ROW_STORE(S, url),
    PB_CLI_ROW_ACCESS_ID(S, access_id, "the app: 1 to 18 decimal digits"),
    NAME_ROW,
    {.name = "role", .arg = "read|write", .type = PB_SETTING_CHOICE, .offset = offsetof(S, role), .choices = roles,
     .help = "read: queries and GET /pushbind/v1/app only", .required = true},
    {.name = "expires", .arg = "DURATION", .type = PB_SETTING_CUSTOM, .offset = offsetof(S, expires_seconds),
     .parse = parse_expires, .help = "the key stops working this long from now (30m, 12h, 90d)",
     .default_text = "never"},
};
static const pb_setting list_rows[] = {
    PB_CLI_ROW_DATA(S, data_dir, false),
    PB_CLI_ROW_STORE(S, url),
    PB_CLI_ROW_ACCESS_ID(S, access_id, "the app"),
};
static const pb_setting revoke_rows[] = {
    PB_CLI_ROW_DATA(S, data_dir, false),
    PB_CLI_ROW_STORE(S, url),
    PB_CLI_ROW_ACCESS_ID(S, access_id, "the app"),
    NAME_ROW,
};
#undef NAME_ROW
#undef S

#define KEY_OUTRO "\nThe server may keep running: changes are visible to its next request.\n"

static const pb_command add_command = {
    .name = "key add",
    .summary = "give an app a new named key",
    .intro = "usage: pushbind key add (--data DIR | --store URL) --access-id ID --name NAME\n"
             "                        --role read|write [--expires DURATION]\n"
             "\n"
             "Adds a named key: another SecretKey of the app's AccessId, for Basic and\n"
             "Signature alike. A read key may query and read GET /pushbind/v1/app; its\n"
             "batchoperate is refused (1008003). The key, 32 random hex digits, is printed\n"
             "once, alone on the last line.\n"
             "\n",
    .outro = KEY_OUTRO,
    PB_ROWS(add_rows),
    .takes_config = true,
    .check = check_flags,
    .run = run_add,
};

static const pb_command list_command = {
    .name = "key list",
    .summary = "list an app's named keys (never their secrets)",
    .intro = "usage: pushbind key list (--data DIR | --store URL) --access-id ID\n"
             "\n"
             "Lists the app's named keys: name, role, creation and expiry (UTC).\n"
             "\n",
    PB_ROWS(list_rows),
    .takes_config = true,
    .check = check_flags,
    .run = run_list,
};

static const pb_command revoke_command = {
    .name = "key revoke",
    .summary = "revoke an app's named key",
    .intro = "usage: pushbind key revoke (--data DIR | --store URL) --access-id ID --name NAME\n"
             "\n"
             "Deletes the named key: requests signed with it are refused from now on.\n"
             "\n",
    .outro = KEY_OUTRO,
    PB_ROWS(revoke_rows),
    .takes_config = true,
    .check = check_flags,
    .run = run_revoke,
};

static const pb_command *const key_commands[] = {&add_command, &list_command, &revoke_command};

static const pb_command_group key_group = {
    .name = "key",
    .intro = "usage: pushbind key COMMAND (--data DIR | --store URL) --access-id ID [options]\n"
             "\n"
             "Manages an app's named keys: each another SecretKey of its AccessId, with a\n"
             "role (read or write), perhaps an expiry, revocable by name. Two keys valid at\n"
             "once let a back end rotate without an outage: add a key, switch, revoke.\n"
             "\n",
    .commands = key_commands,
    .n = sizeof(key_commands) / sizeof(key_commands[0]),
};

int pb_cli_key(int argc, char **argv)
{
    key_settings s = {0};
    return pb_command_group_run(&key_group, argc, argv, &s);
}
