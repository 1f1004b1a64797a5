/*
 * settings.h — a command's settings declared once, as rows.
 *
 * A row names a setting (the flag without "--", which is also its --config
 * key), its type, its default, its range and one line of help. From the rows
 * come the getopt table, the usage text, the --config keys (cli/config_file.h
 * checks keys against the getopt table) and the range checks, so a setting
 * cannot be documented in one place and parsed differently in another.
 *
 * Values are written into a caller's struct at each row's offset: `target`
 * below is that struct.
 */
#ifndef PB_CLI_SETTINGS_H
#define PB_CLI_SETTINGS_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum pb_setting_type {
    PB_SETTING_UINT,   /* a decimal integer in [min, max], stored in an unsigned field of `width` bytes */
    PB_SETTING_FLAG,   /* no value; sets a bool */
    PB_SETTING_STRING, /* a value kept as given (a const char *) */
    PB_SETTING_CHOICE, /* one of `choices`, stored as its index in an int field */
    PB_SETTING_CUSTOM, /* a value `parse` turns into the field; it returns NULL or the problem */
} pb_setting_type;

typedef struct pb_setting {
    const char *name;     /* "max-query-items" */
    const char *arg;      /* what the value looks like in the usage text: "N", "DIR"; NULL for a flag */
    pb_setting_type type;
    size_t offset;        /* of the field in the target struct */
    size_t width;         /* PB_SETTING_UINT: sizeof the field */
    uint64_t min, max;    /* PB_SETTING_UINT: the range a given value must be in */
    uint64_t fallback;    /* PB_SETTING_UINT: the default (may be outside the range: 0 for "off") */
    const char *const *choices; /* PB_SETTING_CHOICE: NULL-terminated names */
    const char *(*parse)(const char *text, void *field); /* PB_SETTING_CUSTOM */
    const char *help;     /* one line */
    const char *default_text; /* the default as the usage text says it; NULL: the number, or nothing */
} pb_setting;

/* Rows, for readable tables: a number in [min, max] with a default. */
#define PB_SETTING_U(name_, arg_, type_, field_, min_, max_, fallback_, help_, default_text_)                      \
    {.name = name_, .arg = arg_, .type = PB_SETTING_UINT, .offset = offsetof(type_, field_),                      \
     .width = sizeof(((type_ *)0)->field_), .min = min_, .max = max_, .fallback = fallback_, .help = help_,        \
     .default_text = default_text_}
#define PB_SETTING_S(name_, arg_, type_, field_, help_, default_text_)                                             \
    {.name = name_, .arg = arg_, .type = PB_SETTING_STRING, .offset = offsetof(type_, field_), .help = help_,      \
     .default_text = default_text_}
#define PB_SETTING_F(name_, type_, field_, help_)                                                                 \
    {.name = name_, .type = PB_SETTING_FLAG, .offset = offsetof(type_, field_), .help = help_}

typedef struct pb_settings {
    const char *command;   /* "serve", for messages */
    const pb_setting *rows;
    size_t n;
} pb_settings;

/* Writes every row's default into `target`. */
void pb_settings_defaults(const pb_settings *settings, void *target);

/*
 * Fills `options` (room for n + 3 entries: the rows, --config, --help and the
 * terminator) with the getopt table of the rows.
 */
void pb_settings_options(const pb_settings *settings, struct option *options);

/* Prints `intro`, then one line per row (and --config, --help), to `out`. */
void pb_settings_usage(const pb_settings *settings, const char *intro, FILE *out);

/*
 * Parses argv (argv[0] is the command) into `target`, whose defaults are
 * already set. Returns PB_EXIT_OK (with *help set when --help was given:
 * nothing after it is parsed), or PB_EXIT_USAGE after printing the problem. A --config FILE in argv is skipped: pb_cli_config_apply() has
 * spliced it in already.
 */
int pb_settings_parse(const pb_settings *settings, int argc, char **argv, void *target, bool *help);

#endif
