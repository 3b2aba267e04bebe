#!/usr/bin/env bash
# Parse "--name value" options into shell variables that the caller has already defined.
#
# Source it after setting the defaults:
#     stage=1
#     stop_stage=13
#     . utils/parse_options.sh
# Then "--stop-stage 5" or "--stop_stage 5" sets stop_stage=5; "--flag=value" also works.
# An option whose variable is not defined is an error, so typos never pass silently.
# A variable that defaults to true or false only accepts true or false.
# "--help" or "-h" prints $help_message (when the caller set one) and exits 0.
# Positional arguments stay in "$@".
# "--config FILE" sources FILE first (lines like "name=value") when the caller defines `config`.

__po_script=$(basename "${0}")
while [ $# -gt 0 ]; do
    case "$1" in
        --help|-h)
            if [ -n "${help_message:-}" ]; then printf '%s\n' "${help_message}"; else echo "${__po_script}: no help available"; fi
            exit 0 ;;
        --)
            shift; break ;;
        --*=*)
            __po_name=${1%%=*}; __po_value=${1#*=}; shift ;;
        --*)
            if [ $# -lt 2 ]; then echo "${__po_script}: option '$1' needs a value" >&2; exit 1; fi
            __po_name=$1; __po_value=$2; shift 2 ;;
        *)
            break ;;
    esac
    __po_var=${__po_name#--}
    __po_var=${__po_var//-/_}
    if ! [[ "${__po_var}" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || [ -z "${!__po_var+set}" ]; then
        echo "${__po_script}: unknown option '${__po_name}' (see --help)" >&2
        exit 1
    fi
    if [ "${__po_var}" = config ]; then
        if [ ! -f "${__po_value}" ]; then echo "${__po_script}: config file '${__po_value}' does not exist" >&2; exit 1; fi
        # shellcheck disable=SC1090
        . "${__po_value}"
    fi
    case "${!__po_var}" in
        true|false)
            case "${__po_value}" in
                true|false) ;;
                *) echo "${__po_script}: option '${__po_name}' takes true or false, not '${__po_value}'" >&2; exit 1 ;;
            esac ;;
    esac
    printf -v "${__po_var}" '%s' "${__po_value}"
done
unset __po_name __po_value __po_var __po_script
