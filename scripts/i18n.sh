#!/usr/bin/env sh
# The zh_CN translation catalog: extract the UI strings, merge them into the catalog, compile.
#
#   scripts/i18n.sh            extract + update + compile (the usual after changing strings)
#   scripts/i18n.sh extract    only write app/translations/messages.pot
#   scripts/i18n.sh update     extract, then merge into app/translations/zh_Hans_CN/LC_MESSAGES/messages.po
#   scripts/i18n.sh compile    only compile the .po into the .mo that the server reads
#
# The zh_CN catalog lives in zh_Hans_CN/: Babel names the zh_CN locale "zh_Hans_CN" and looks
# for its catalog under that name.
#
# After "update", fill the new empty msgstr entries in the .po, then compile; commit both the
# .po and the .mo (the server reads the .mo; tests fail on untranslated strings).
set -eu
cd "$(dirname "$0")/.."
PYBABEL=".venv/bin/pybabel"
POT="app/translations/messages.pot"
DIR="app/translations"

extract() {
    mkdir -p "$DIR"
    "$PYBABEL" extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
        --project OneMap --copyright-holder "OneMap contributors" -o "$POT" app
}
update() {
    extract
    if [ -f "$DIR/zh_Hans_CN/LC_MESSAGES/messages.po" ]; then
        "$PYBABEL" update -i "$POT" -d "$DIR" -l zh_Hans_CN --no-fuzzy-matching --ignore-obsolete
    else
        "$PYBABEL" init -i "$POT" -d "$DIR" -l zh_Hans_CN
    fi
}
compile() {
    "$PYBABEL" compile -d "$DIR" --statistics
}

case "${1:-all}" in
    extract) extract ;;
    update) update ;;
    compile) compile ;;
    all) update; compile ;;
    *) echo "usage: $0 [extract|update|compile]" >&2; exit 2 ;;
esac
