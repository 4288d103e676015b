/* The default runtime's Python data stack: the modules agents commonly import and the
 * Debian package of each (scripts/install-deps.sh installs them; docs/runtimes.md). One
 * list for `GET /v1/runtimes/default` and `airlock doctor`. */
#pragma once

#define DEFAULT_STACK_DIR "/usr/lib/python3/dist-packages"

static const struct {
        const char *module, *package;
} default_stack[] = {
        {"numpy", "python3-numpy"},         {"pandas", "python3-pandas"},     {"scipy", "python3-scipy"},
        {"statsmodels", "python3-statsmodels"}, {"sympy", "python3-sympy"},   {"matplotlib", "python3-matplotlib"},
        {"seaborn", "python3-seaborn"},     {"sklearn", "python3-sklearn"},   {"networkx", "python3-networkx"},
        {"requests", "python3-requests"},   {"bs4", "python3-bs4"},           {"lxml", "python3-lxml"},
        {"openpyxl", "python3-openpyxl"},   {"xlrd", "python3-xlrd"},         {"pypdf", "python3-pypdf"},
        {"docx", "python3-docx"},           {"PIL", "python3-pil"},           {"yaml", "python3-yaml"},
};
