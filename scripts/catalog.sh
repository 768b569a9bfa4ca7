#!/usr/bin/env bash
# The page's message catalog, in three steps (Babel, from requirements-dev.txt):
#   1. extract every marked text of app.py, studio and gan_core into gan_core/locale/messages.pot;
#   2. merge it into each language's .po (new texts arrive with an empty translation, changed ones fuzzy);
#   3. compile each .po into the .mo the app reads at run time (committed: the app needs no Babel).
# After step 2, translate the empty and fuzzy entries in the .po, then run this again.
set -euo pipefail
cd "$(dirname "$0")/.."
LOCALE=gan_core/locale
KEYWORDS=(-k msg -k _n:1,2)    # besides Babel's defaults: _, N_, gettext, ngettext, ...

python3 -m babel.messages.frontend extract -F babel.cfg "${KEYWORDS[@]}" --add-location=file --sort-output \
  --project="GAN Studio" --version="" --copyright-holder="GAN Studio" --msgid-bugs-address="" --width=100 -o "$LOCALE/messages.pot" .
for lang in zh_CN; do
  if [ -f "$LOCALE/$lang/LC_MESSAGES/gan_studio.po" ]; then
    python3 -m babel.messages.frontend update -i "$LOCALE/messages.pot" -d "$LOCALE" -D gan_studio -l "$lang" \
      --width=100 --ignore-obsolete
  else
    python3 -m babel.messages.frontend init -i "$LOCALE/messages.pot" -d "$LOCALE" -D gan_studio -l "$lang" --width=100
  fi
done
python3 -m babel.messages.frontend compile -d "$LOCALE" -D gan_studio --statistics
