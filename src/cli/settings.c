#include <stdlib.h>
#include <string.h>

#include "cli/options.h"
#include "cli/settings.h"

/* getopt's value for row i; --config and --help follow the rows. */
#define ROW_VALUE(i) (256 + (int)(i))
#define CONFIG_VALUE(settings) ROW_VALUE((settings)->n)
#define HELP_VALUE(settings) ROW_VALUE((settings)->n + 1)

static void store_uint(void *field, size_t width, uint64_t value)
{
    switch (width) {
    case 1: *(uint8_t *)field = (uint8_t)value; break;
    case 2: *(uint16_t *)field = (uint16_t)value; break;
    case 4: *(uint32_t *)field = (uint32_t)value; break;
    default: *(uint64_t *)field = value; break;
    }
}

void pb_settings_defaults(const pb_settings *settings, void *target)
{
    for (size_t i = 0; i < settings->n; i++) {
        const pb_setting *row = &settings->rows[i];
        if (row->type == PB_SETTING_UINT)
            store_uint((char *)target + row->offset, row->width, row->fallback);
    }
}

void pb_settings_options(const pb_settings *settings, struct option *options)
{
    size_t i = 0;
    for (; i < settings->n; i++)
        options[i] = (struct option){settings->rows[i].name,
                                     settings->rows[i].type == PB_SETTING_FLAG ? no_argument : required_argument,
                                     NULL, ROW_VALUE(i)};
    options[i++] = (struct option){"config", required_argument, NULL, CONFIG_VALUE(settings)};
    options[i++] = (struct option){"help", no_argument, NULL, HELP_VALUE(settings)};
    options[i] = (struct option){NULL, 0, NULL, 0};
}

static void usage_line(FILE *out, const char *name, const char *arg, const char *help, const char *default_text)
{
    char flag[64];
    snprintf(flag, sizeof(flag), "--%s%s%s", name, arg != NULL ? " " : "", arg != NULL ? arg : "");
    fprintf(out, "  %-28s %s", flag, help);
    if (default_text != NULL)
        fprintf(out, " (default %s)", default_text);
    fputc('\n', out);
}

void pb_settings_usage(const pb_settings *settings, const char *intro, FILE *out)
{
    fputs(intro, out);
    for (size_t i = 0; i < settings->n; i++) {
        const pb_setting *row = &settings->rows[i];
        char number[24];
        const char *default_text = row->default_text;
        if (default_text == NULL && row->type == PB_SETTING_UINT) {
            snprintf(number, sizeof(number), "%llu", (unsigned long long)row->fallback);
            default_text = number;
        }
        usage_line(out, row->name, row->arg, row->help, default_text);
    }
    usage_line(out, "config", "FILE", "settings as 'key = value' lines, keys as these flags; flags win", NULL);
    usage_line(out, "help", NULL, "this text", NULL);
}

/* Parses `text` for `row` into its field. Returns NULL or the problem. */
static const char *parse_value(const pb_setting *row, const char *text, void *target, char *problem, size_t size)
{
    void *field = (char *)target + row->offset;
    uint64_t value;
    switch (row->type) {
    case PB_SETTING_FLAG:
        *(bool *)field = true;
        return NULL;
    case PB_SETTING_STRING:
        *(const char **)field = text;
        return NULL;
    case PB_SETTING_UINT:
        if (pb_cli_parse_uint(text, row->min, row->max, &value) == 0) {
            store_uint(field, row->width, value);
            return NULL;
        }
        snprintf(problem, size, "'%s' is not a number in %llu..%llu", text, (unsigned long long)row->min,
                 (unsigned long long)row->max);
        return problem;
    case PB_SETTING_CHOICE:
        for (int i = 0; row->choices[i] != NULL; i++)
            if (strcmp(text, row->choices[i]) == 0) {
                *(int *)field = i;
                return NULL;
            }
        snprintf(problem, size, "'%s' is not one of %s", text, row->arg);
        return problem;
    case PB_SETTING_CUSTOM:
        return row->parse(text, field);
    }
    return "unknown setting type";
}

int pb_settings_parse(const pb_settings *settings, int argc, char **argv, void *target, bool *help)
{
    struct option *options = calloc(settings->n + 3, sizeof(*options));
    if (options == NULL) {
        fprintf(stderr, "pushbind %s: out of memory\n", settings->command);
        return PB_EXIT_FAILURE;
    }
    pb_settings_options(settings, options);
    int rc = PB_EXIT_OK, option;
    *help = false;
    opterr = 0;
    optind = 1;
    while (rc == PB_EXIT_OK && !*help && (option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        char problem[160];
        const char *why;
        if (option == HELP_VALUE(settings))
            *help = true;
        else if (option == CONFIG_VALUE(settings))
            continue; /* spliced in by pb_cli_config_apply() */
        else if (option < ROW_VALUE(0) || option >= CONFIG_VALUE(settings))
            rc = pb_cli_usage_error(settings->command, "unknown or incomplete option '%s'", argv[optind - 1]);
        else if ((why = parse_value(&settings->rows[option - ROW_VALUE(0)], optarg, target, problem,
                                    sizeof(problem))) != NULL)
            rc = pb_cli_usage_error(settings->command, "--%s: %s", settings->rows[option - ROW_VALUE(0)].name, why);
    }
    if (rc == PB_EXIT_OK && !*help && optind < argc)
        rc = pb_cli_usage_error(settings->command, "unexpected argument '%s'", argv[optind]);
    free(options);
    return rc;
}
