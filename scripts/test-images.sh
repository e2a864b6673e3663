# Sourced by scripts/test and bench/run: make Pillow's own test photographs available and export
# ARTBOARD_TEST_IMAGES. They come from Pillow's source distribution on PyPI (the version in .venv), fetched
# once into a cache shared by every clone on this machine.
pillow_version="$(.venv/bin/python -c 'import PIL; print(PIL.__version__)')"
ARTBOARD_TEST_IMAGES="${XDG_CACHE_HOME:-$HOME/.cache}/artboard/pillow-$pillow_version-test-images"
if [ ! -f "$ARTBOARD_TEST_IMAGES/flower.jpg" ]; then
    echo "test-images: fetching Pillow $pillow_version's test photographs (once)" >&2
    staging="$(mktemp -d)"
    .venv/bin/python -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
        "pillow==$pillow_version" -d "$staging"
    tar -xzf "$staging"/pillow-*.tar.gz -C "$staging" --wildcards '*/Tests/images/*'
    mkdir -p "$(dirname "$ARTBOARD_TEST_IMAGES")"
    rm -rf "$ARTBOARD_TEST_IMAGES"
    mv "$staging"/pillow-*/Tests/images "$ARTBOARD_TEST_IMAGES"
    rm -rf "$staging"
fi
export ARTBOARD_TEST_IMAGES
