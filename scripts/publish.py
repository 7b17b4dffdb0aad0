"""Publish the bundled checkpoints (zoo/weights/<name>/) to the Hugging Face Hub and pin
them in checkpoints.json.

For each bundled checkpoint: check it against its checkpoints.json entry, push it with a
generated model card (`zoo.push_to_hub`), download it again at the returned commit into
an empty cache, verify every file's sha256 against checkpoints.json, load both copies
and require identical samples from fixed noise. Then print the updated entries, or with
`--write` put the new revisions into checkpoints.json. Nothing is written unless every
checkpoint round-trips.

    KERAS_BACKEND=jax python scripts/publish.py --org my-org [--token hf_...] [--write]
    python scripts/publish.py --endpoint http://127.0.0.1:8080 rectified-flow-moons

`--endpoint` (default `HF_ENDPOINT`) points at another Hub; `--token` defaults to
huggingface_hub's (`HF_TOKEN` or `hf auth login`); `--org` replaces the owner of every
entry's `hub.repo_id`.
"""

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

SAMPLE_STEPS = 2  # the check compares weights through the sampler, not sample quality


def parse_args(argv):
    from zoo import pretrained

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="only these checkpoints (default: all bundled)")
    parser.add_argument("--endpoint", default=os.environ.get("HF_ENDPOINT"),
                        help="Hub URL (default: HF_ENDPOINT, else huggingface.co)")
    parser.add_argument("--token", default=None, help="Hub token with write access")
    parser.add_argument("--org", default=None, help="push to <org>/<name> instead of hub.repo_id")
    parser.add_argument("--private", action="store_true", help="create new repos as private")
    parser.add_argument("--registry", type=Path, default=pretrained.REGISTRY_FILE,
                        help="checkpoints.json to read (and update with --write)")
    parser.add_argument("--mirror", type=Path, default=pretrained.MIRROR_DIR,
                        help="directory of bundled checkpoints, one folder per name")
    parser.add_argument("--write", action="store_true",
                        help="update the revisions in checkpoints.json in place")
    return parser.parse_args(argv)


def use_endpoint(endpoint):
    """Send huggingface_hub's requests to `endpoint`. The client reads HF_ENDPOINT once, at
    import, so once it is imported its module constants must follow too."""
    endpoint = endpoint.rstrip("/")
    os.environ["HF_ENDPOINT"] = endpoint
    if "huggingface_hub" in sys.modules:
        from huggingface_hub import constants, hf_api

        constants.ENDPOINT = endpoint
        template = "/{repo_id}/resolve/{revision}/{filename}"
        constants.HUGGINGFACE_CO_URL_TEMPLATE = endpoint + template
        hf_api.api.endpoint = endpoint


def fixed_sample(model):
    """Samples from fixed noise: equal weights give equal samples on one backend."""
    noise = np.random.default_rng(0).standard_normal((4, *model.data_shape)).astype("float32")
    return model.sample(noise=noise, steps=SAMPLE_STEPS, raw=True)


def publish(name, entry, directory, repo_id, *, token=None, private=False):
    """Push one bundled checkpoint, check its round trip, and return its updated entry."""
    import zoo
    from zoo import hub

    files = entry["files"]
    hub.verify_files(directory, files["sha256"], files.get("size"))  # publish what is pinned
    pushed = zoo.push_to_hub(directory, repo_id, entry=entry, name=name, token=token,
                             private=private, commit_message=f"Publish {name} with zoo")
    if pushed["files"] != files:
        extra = sorted(set(pushed["files"]["sha256"]) ^ set(files["sha256"]))
        raise ValueError(f"{name}: the files pushed from {directory} are not the ones "
                         f"checkpoints.json lists (differing: {', '.join(extra) or 'digests'}).")
    revision = pushed["hub"]["revision"]
    with tempfile.TemporaryDirectory() as cache:  # an empty cache: the bytes come from the Hub
        downloaded = hub.download_checkpoint(repo_id, revision=revision, sha256=files["sha256"],
                                             sizes=files.get("size"), cache_dir=cache, token=token)
        original = zoo.load_checkpoint(directory, family=entry["family"])
        copy = zoo.load_checkpoint(downloaded, family=entry["family"])
        if not np.array_equal(fixed_sample(original), fixed_sample(copy)):
            raise ValueError(f"{name}: the copy downloaded from {repo_id}@{revision} samples "
                             "differently from the bundled checkpoint.")
    return {**entry, "hub": {"repo_id": repo_id, "revision": revision}}


def write_registry(path, updated):
    """Put the new `hub` fields into checkpoints.json, keeping everything else as it is."""
    path = Path(path).resolve()  # zoo/checkpoints.json is a link to the repo root's file
    data = json.loads(path.read_text())
    for name, entry in updated.items():
        data["checkpoints"][name]["hub"] = entry["hub"]
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.endpoint:
        use_endpoint(args.endpoint)
    from zoo.pretrained import validate_entry

    entries = json.loads(args.registry.read_text())["checkpoints"]
    bundled = sorted(p.name for p in args.mirror.glob("*/") if not p.name.startswith("."))
    names = args.names or bundled
    problems = [f"{n}: not bundled in {args.mirror}" for n in names if n not in bundled]
    problems += [f"{n}: no entry in {args.registry} (zoo.push_to_hub returns one to start from)"
                 for n in names if n not in entries]
    if problems or not names:
        print("publish: " + ("; ".join(problems) or f"no checkpoints bundled in {args.mirror}"),
              file=sys.stderr)
        return 1
    updated = {}
    for name in names:
        try:
            entry = validate_entry(name, entries[name])
            repo_id = entry["hub"]["repo_id"]
            if args.org:
                repo_id = f"{args.org}/{repo_id.split('/')[-1]}"
            updated[name] = publish(name, entry, args.mirror / name, repo_id, token=args.token,
                                    private=args.private)
        except (ValueError, ConnectionError) as err:  # ChecksumError, HubUnavailableError ...
            print(f"publish: {name} failed, nothing written: {err}", file=sys.stderr)
            return 1
        print(f"publish: {name} -> {repo_id}@{updated[name]['hub']['revision']} round-trips",
              file=sys.stderr)
    if args.write:
        write_registry(args.registry, updated)
        print(f"publish: updated {args.registry}", file=sys.stderr)
    print(json.dumps(updated, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
