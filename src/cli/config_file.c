#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/options.h"
#include "cli/config_file.h"

/* Appends `s` to out's argv; `owned` strings are freed with it. Returns 0 or -1. */
static int push(pb_cli_argv *out, char *s, bool owned)
{
    char **grown = realloc(out->argv, (size_t)(out->argc + 2) * sizeof(*grown));
    if (grown == NULL)
        return -1;
    out->argv = grown;
    out->argv[out->argc++] = s;
    out->argv[out->argc] = NULL;
    if (owned) {
        char **list = realloc(out->owned, (size_t)(out->n_owned + 1) * sizeof(*list));
        if (list == NULL)
            return -1;
        out->owned = list;
        out->owned[out->n_owned++] = s;
    }
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

static const struct option *find_option(const struct option *options, const char *name)
{
    for (const struct option *o = options; o->name != NULL; o++)
        if (strcmp(o->name, name) == 0)
            return o;
    return NULL;
}

/* Turns one "key = value" line into flags. Returns NULL or the problem. */
static const char *read_setting(char *line, const struct option *options, pb_cli_argv *out)
{
    char *eq = strchr(line, '=');
    if (eq == NULL)
        return "not 'key = value'";
    *eq = '\0';
    char *key = trim(line), *value = trim(eq + 1);
    const struct option *option = find_option(options, key);
    if (option == NULL || strcmp(key, "config") == 0 || strcmp(key, "help") == 0)
        return "unknown key";
    char *flag = NULL;
    if (asprintf(&flag, "--%s", key) < 0 || push(out, flag, true) != 0)
        return "out of memory";
    if (option->has_arg == no_argument) {
        if (strcmp(value, "true") == 0)
            return NULL;
        out->argc--; /* false: the flag is not given at all */
        out->argv[out->argc] = NULL;
        return strcmp(value, "false") == 0 ? NULL : "takes true or false";
    }
    char *copy = strdup(value);
    if (copy == NULL || push(out, copy, true) != 0)
        return "out of memory";
    return value[0] == '\0' ? "empty value" : NULL;
}

static int read_file(const char *command, const char *path, const struct option *options, pb_cli_argv *out)
{
    FILE *file = fopen(path, "r");
    if (file == NULL) {
        fprintf(stderr, "pushbind %s: cannot read %s: %m\n", command, path);
        return PB_EXIT_FAILURE;
    }
    char *line = NULL;
    size_t capacity = 0;
    int number = 0, rc = PB_EXIT_OK;
    while (rc == PB_EXIT_OK && getline(&line, &capacity, file) != -1) {
        number++;
        char *text = trim(line);
        if (text[0] == '\0' || text[0] == '#')
            continue;
        const char *problem = read_setting(text, options, out);
        if (problem != NULL) {
            fprintf(stderr, "pushbind %s: %s:%d: %s\n", command, path, number, problem);
            rc = PB_EXIT_USAGE;
        }
    }
    free(line);
    fclose(file);
    return rc;
}

int pb_cli_config_apply(const char *command, const struct option *options, int argc, char **argv, pb_cli_argv *out)
{
    *out = (pb_cli_argv){0};
    const char *path = NULL;
    int skip = -1, skip_len = 0;
    for (int i = 1; i < argc && path == NULL; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            path = argv[i + 1], skip = i, skip_len = 2;
        else if (strncmp(argv[i], "--config=", 9) == 0)
            path = argv[i] + 9, skip = i, skip_len = 1;
    }
    int rc = push(out, argv[0], false) == 0 ? PB_EXIT_OK : PB_EXIT_FAILURE;
    if (rc == PB_EXIT_OK && path != NULL)
        rc = read_file(command, path, options, out);
    for (int i = 1; rc == PB_EXIT_OK && i < argc; i++) {
        if (i == skip) {
            i += skip_len - 1;
            continue;
        }
        if (push(out, argv[i], false) != 0)
            rc = PB_EXIT_FAILURE;
    }
    if (rc != PB_EXIT_OK)
        pb_cli_argv_free(out);
    return rc;
}

void pb_cli_argv_free(pb_cli_argv *args)
{
    for (int i = 0; i < args->n_owned; i++)
        free(args->owned[i]);
    free(args->owned);
    free(args->argv);
    *args = (pb_cli_argv){0};
}
