#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/config_file.h"
#include "cli/options.h"
#include "cli/settings.h"

/* getopt's value for row i; --config and --help follow the rows. */
#define ROW_VALUE(i) (256 + (int)(i))
#define CONFIG_VALUE(command) ROW_VALUE((command)->n)
#define HELP_VALUE(command) ROW_VALUE((command)->n + 1)

static void store_uint(void *field, size_t width, uint64_t value)
{
    switch (width) {
    case 1: *(uint8_t *)field = (uint8_t)value; break;
    case 2: *(uint16_t *)field = (uint16_t)value; break;
    case 4: *(uint32_t *)field = (uint32_t)value; break;
    default: *(uint64_t *)field = value; break;
    }
}

static void write_defaults(const pb_command *command, void *settings)
{
    for (size_t i = 0; i < command->n; i++) {
        const pb_setting *row = &command->rows[i];
        if (row->type == PB_SETTING_UINT)
            store_uint((char *)settings + row->offset, row->width, row->fallback);
    }
}

/* Fills `options` (room for n + 3 entries) with the getopt table: the rows, --config when taken, --help. */
static void fill_options(const pb_command *command, struct option *options)
{
    size_t i = 0;
    for (; i < command->n; i++)
        options[i] = (struct option){command->rows[i].name,
                                     command->rows[i].type == PB_SETTING_FLAG ? no_argument : required_argument,
                                     NULL, ROW_VALUE(i)};
    if (command->takes_config)
        options[i++] = (struct option){"config", required_argument, NULL, CONFIG_VALUE(command)};
    options[i++] = (struct option){"help", no_argument, NULL, HELP_VALUE(command)};
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

/* The intro, one line per row (and --config, --help), the outro. */
static void print_usage(const pb_command *command, FILE *out)
{
    fputs(command->intro, out);
    for (size_t i = 0; i < command->n; i++) {
        const pb_setting *row = &command->rows[i];
        char number[24];
        const char *default_text = row->default_text;
        if (default_text == NULL && row->type == PB_SETTING_UINT) {
            snprintf(number, sizeof(number), "%llu", (unsigned long long)row->fallback);
            default_text = number;
        }
        usage_line(out, row->name, row->arg, row->help, default_text);
    }
    if (command->takes_config)
        usage_line(out, "config", "FILE", "settings as 'key = value' lines, keys as these flags; flags win", NULL);
    usage_line(out, "help", NULL, "this text", NULL);
    if (command->outro != NULL)
        fputs(command->outro, out);
}

/* Parses `text` for `row` into its field. Returns NULL or the problem. */
static const char *parse_value(const pb_setting *row, const char *text, void *settings, char *problem, size_t size)
{
    void *field = (char *)settings + row->offset;
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

/*
 * Parses argv (argv[0] is the command's last word) into `settings`, marking
 * each row given, and takes the operand. Returns PB_EXIT_OK (with *help set
 * when --help was given: nothing after it is parsed) or PB_EXIT_USAGE after
 * printing the problem. A --config left in argv is skipped: a second one.
 */
static int parse_argv(const pb_command *command, const struct option *options, int argc, char **argv,
                      void *settings, bool *given, bool *help)
{
    const char *name = command->name;
    int rc = PB_EXIT_OK, option;
    *help = false;
    opterr = 0;
    optind = 1;
    while (rc == PB_EXIT_OK && !*help && (option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        char problem[160];
        const char *why;
        size_t row = (size_t)(option - ROW_VALUE(0));
        if (option == HELP_VALUE(command))
            *help = true;
        else if (option == CONFIG_VALUE(command) && command->takes_config)
            continue;
        else if (option < ROW_VALUE(0) || row >= command->n)
            rc = pb_cli_usage_error(name, "unknown or incomplete option '%s'", argv[optind - 1]);
        else if ((why = parse_value(&command->rows[row], optarg, settings, problem, sizeof(problem))) != NULL)
            rc = pb_cli_usage_error(name, "--%s: %s", command->rows[row].name, why);
        else
            given[row] = true;
    }
    if (rc != PB_EXIT_OK || *help)
        return rc;
    if (command->operand != NULL && optind < argc)
        *(const char **)((char *)settings + command->operand_offset) = argv[optind++];
    else if (command->operand != NULL)
        return pb_cli_usage_error(name, "one %s is required", command->operand);
    if (optind < argc)
        return pb_cli_usage_error(name, "unexpected argument '%s'", argv[optind]);
    return PB_EXIT_OK;
}

/* Parses, checks and runs with argv as --config left it. */
static int run_parsed(const pb_command *command, const struct option *options, int argc, char **argv,
                      void *settings, bool *given)
{
    bool help;
    int exit_code = parse_argv(command, options, argc, argv, settings, given, &help);
    if (help) {
        print_usage(command, stdout);
        return PB_EXIT_OK;
    }
    for (size_t i = 0; exit_code == PB_EXIT_OK && i < command->n; i++)
        if (command->rows[i].required && !given[i])
            exit_code = pb_cli_usage_error(command->name, "--%s %s is required", command->rows[i].name,
                                           command->rows[i].arg);
    if (exit_code == PB_EXIT_OK && command->check != NULL)
        exit_code = command->check(command, settings);
    return exit_code == PB_EXIT_OK ? command->run(settings) : exit_code;
}

int pb_command_run(const pb_command *command, int argc, char **argv, void *settings)
{
    struct option *options = calloc(command->n + 3, sizeof(*options));
    bool *given = calloc(command->n + 1, sizeof(*given)); /* + 1: never calloc(0), which may be NULL */
    pb_cli_argv args;
    int exit_code = PB_EXIT_FAILURE;
    if (options == NULL || given == NULL) {
        fprintf(stderr, "pushbind %s: out of memory\n", command->name);
        goto done;
    }
    write_defaults(command, settings);
    fill_options(command, options);
    if (!command->takes_config) {
        exit_code = run_parsed(command, options, argc, argv, settings, given);
        goto done;
    }
    exit_code = pb_cli_config_apply(command->name, options, argc, argv, &args);
    if (exit_code == PB_EXIT_OK) {
        exit_code = run_parsed(command, options, args.argc, args.argv, settings, given);
        pb_cli_argv_free(&args);
    }
done:
    free(given);
    free(options);
    return exit_code;
}

static void print_group_usage(const pb_command_group *group, FILE *out)
{
    size_t prefix = strlen(group->name) + 1;
    fputs(group->intro, out);
    for (size_t i = 0; i < group->n; i++)
        fprintf(out, "  %-8s %s  (pushbind %s --help)\n", group->commands[i]->name + prefix,
                group->commands[i]->summary, group->commands[i]->name);
    if (group->outro != NULL)
        fputs(group->outro, out);
}

int pb_command_group_run(const pb_command_group *group, int argc, char **argv, void *settings)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        print_group_usage(group, argc < 2 ? stderr : stdout);
        return argc < 2 ? PB_EXIT_USAGE : PB_EXIT_OK;
    }
    size_t prefix = strlen(group->name) + 1;
    for (size_t i = 0; i < group->n; i++)
        if (strcmp(group->commands[i]->name + prefix, argv[1]) == 0)
            return pb_command_run(group->commands[i], argc - 1, argv + 1, settings);
    return pb_cli_usage_error(group->name, "unknown command '%s'", argv[1]);
}
