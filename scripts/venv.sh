# Sourced by scripts/serve and scripts/test: make .venv hold Artboard (and the extras named in
# ARTBOARD_EXTRAS), reinstalling only when pyproject.toml changed since the last install.
venv_python="${ARTBOARD_PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$venv_python" -m venv .venv || {
        echo "scripts: could not create .venv; on Debian/Ubuntu: apt-get install -y python3-venv" >&2
        return 1
    }
fi
stamp=".venv/.artboard-installed-${ARTBOARD_EXTRAS:-base}"
wanted="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    target="."
    [ -n "${ARTBOARD_EXTRAS:-}" ] && target=".[${ARTBOARD_EXTRAS}]"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$target"
    echo "$wanted" > "$stamp"
fi
