"""Data: the 2.x ``data`` dict becomes the 3.x ``train/val/test_dataloader``.

## What it maps
- R4: ``data = dict(samples_per_gpu=B, workers_per_gpu=W, train=T, val=V, test=X)`` ->
  ``train_dataloader = dict(batch_size=B, num_workers=W, persistent_workers=True,
  sampler=dict(type='DefaultSampler', shuffle=True), batch_sampler=dict(type='AspectRatioBatchSampler'),
  dataset=T')``, ``val_dataloader = dict(batch_size=1, num_workers=W, persistent_workers=True, drop_last=False,
  sampler=dict(type='DefaultSampler', shuffle=False), dataset=V')`` and ``test_dataloader = val_dataloader``
  when ``X`` is written as ``V`` (else its own dict). ``persistent_workers`` is False where ``W`` is 0.
  A child that writes part of ``data`` over 3.x bases gets the matching partial override:
  ``data = dict(samples_per_gpu=4)`` -> ``train_dataloader = dict(batch_size=4)``; ``data = dict(train=dict(
  pipeline=p))`` -> ``train_dataloader = dict(dataset=dict(pipeline=p))``; ``_delete_`` carries over.
- R5: ``ann_file=data_root + 'a.json', img_prefix=data_root + 'img/'`` -> ``data_root=data_root,
  ann_file='a.json', data_prefix=dict(img='img/')``; ``seg_prefix`` -> ``data_prefix.seg``; ``proposal_file``,
  ``label_file``, ``hierarchy_file``, ``meta_file``, ``image_level_ann_file`` lose the same prefix; VOC's
  ``img_prefix`` -> ``data_prefix.sub_data_root``; list ``ann_file``/``img_prefix`` -> ``ConcatDataset``.
- R6: a train dataset written whole gets ``filter_cfg=dict(filter_empty_gt=True, min_size=32)`` (2.x's implicit
  filtering; ``filter_empty_gt=F`` and the XML datasets' ``min_size=S`` -> ``filter_cfg.filter_empty_gt=F`` /
  ``filter_cfg.bbox_min_size=S``); a val/test dataset written whole gets ``test_mode=True``.
- ``classes=C`` -> ``metainfo=dict(classes=C)``.
- R44: ``RepeatDataset``, ``ClassBalancedDataset``, ``MultiImageMixDataset`` (``dataset=``) and
  ``ConcatDataset`` (``datasets=``) keep their type; the rules above recurse into them, and a partial
  override follows the wrapper of the resolved 2.x config (``data.train`` a ``RepeatDataset``:
  ``train=dict(dataset=dict(pipeline=p))`` -> ``train_dataloader = dict(dataset=dict(dataset=dict(pipeline=p)))``).
  A train set behind a variable (``train=train_dataset``) is rewritten where the variable is written.
  A partial override of a set whose list ``ann_file`` the migrated bases made a ``ConcatDataset``
  (``dataset=dict(pipeline=p)`` over VOC0712) goes into each of its ``datasets=``, each written whole from the
  bases' (lists do not merge), as the official ports do.
- R45: ``data.persistent_workers`` -> ``train_dataloader.persistent_workers``; ``imgs_per_gpu`` ->
  ``batch_size``; ``data.val.samples_per_gpu`` -> ``val_dataloader.batch_size``;
  ``data.train_dataloader/val_dataloader/test_dataloader`` overrides (``samples_per_gpu``, ``workers_per_gpu``,
  ``persistent_workers``, ``shuffle``, ``class_aware_sampler=dict(...)`` ->
  ``sampler=dict(_delete_=True, type='ClassAwareSampler', ...)``) -> the matching ``*_dataloader`` keys.
- R42 (data part): an ``IterBasedRunner`` config trains from ``sampler=dict(type='InfiniteSampler')``.

## Refused (left as written, named in the file's notes)
- ``data`` (or a dataset in it) that is not a ``dict(...)`` literal, or a variable not written in this file.
- ``data.<split>.<key>`` for a dataset argument with no 3.x equivalent known here (``ins_ann_file``,
  ``file_client_args``...).
- paths that do not share one ``data_root`` prefix, a prefix that does not end in ``/`` (``os.path.join``
  would add one), and plain paths under a 3.x base that joins them with its ``data_root``.
- ``data.<split>_dataloader.<key>`` for a loader argument other than those above.
- a path, or a part of a dict (``filter_cfg``, ``data_prefix``), overridden in a set the bases concatenated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import libcst as cst

from autofix.config_edit import render
from autofix.cst_helpers import dict_call_keys, node_code, string_value
from autofix.migration import FileMigration, Refused, Step
from autofix.mmconfig import value_at
from autofix.provenance import assigned_name
from autofix.rule import Example

SPLITS = ("train", "val", "test")
# Wrappers whose inner dataset is ``dataset=``; ``ConcatDataset`` holds ``datasets=[...]``.
WRAPPERS = ("RepeatDataset", "ClassBalancedDataset", "MultiImageMixDataset")
# Paths a 2.x dataset joined with ``data_root``; 3.x joins them the same way (mmengine ``BaseDataset``).
JOINED_PATHS = ("ann_file", "proposal_file", "label_file", "hierarchy_file", "meta_file", "image_level_ann_file")
PREFIXES = {"img_prefix": "img", "seg_prefix": "seg"}
# 2.x dataset arguments that mean the same in 3.x.
KEPT = ("type", "_delete_", "pipeline", "data_root", "test_mode", "times", "oversample_thr", "dataset", "datasets",
        "separate_eval", "filter_flag", "skip_type_keys", "max_refetch", "dynamic_scale")
XML_DATASETS = ("VOCDataset", "XMLDataset", "WIDERFaceDataset")
SUB_DATA_ROOT = ("VOCDataset", "XMLDataset")  # 3.x XMLDataset reads `data_prefix.sub_data_root`
LOADER_KEYS = {"samples_per_gpu": "batch_size", "imgs_per_gpu": "batch_size", "workers_per_gpu": "num_workers",
               "persistent_workers": "persistent_workers"}


# --- a small source builder: the dataloaders are written in the official ports' layout --------------------


@dataclass
class Call:
    """``func(key=value, ...)`` to be written; values are source text, nested :class:`Call`s or lists of them."""

    func: str = "dict"
    args: list[tuple[str, Value]] = field(default_factory=list)
    comments: dict[str, str] = field(default_factory=dict)  # key -> comment at the end of its line

    def add(self, key: str, value: Value, comment: str | None = None) -> None:
        self.args.append((key, value))
        if comment:
            self.comments[key] = comment

    def get(self, key: str) -> Value | None:
        return next((value for name, value in self.args if name == key), None)

    def code(self, indent: int = 0, column: int = 0) -> str:
        """The call at ``column`` of a line indented by ``indent``: on that line when it fits in 79
        columns, else one argument a line, closed on the last (yapf's layout, as in the ports)."""
        flat = f"{self.func}(" + ", ".join(f"{key}={_flat(value)}" for key, value in self.args) + ")"
        if not self.comments and "\n" not in flat and column + len(flat) <= 79:
            return flat
        pad = " " * (indent + 4)
        lines = []
        for index, (key, value) in enumerate(self.args):
            part = f"{key}={_nested(value, indent + 4, indent + 5 + len(key))}"
            last = index == len(self.args) - 1
            comment = self.comments.get(key)
            if comment:
                lines.append(f"{pad}{part},  {comment}" + (f"\n{' ' * indent})" if last else ""))
            else:
                lines.append(f"{pad}{part}" + (")" if last else ","))
        return f"{self.func}(\n" + "\n".join(lines) if lines else f"{self.func}()"


@dataclass
class Items:
    """``[item, ...]`` of :class:`Call`s, one a line."""

    items: list[Call]

    def code(self, indent: int = 0, column: int = 0) -> str:
        pad = " " * (indent + 4)
        return "[\n" + ",\n".join(pad + item.code(indent + 4, indent + 4) for item in self.items) + "\n" + " " * indent + "]"


Value = "str | Call | Items"


def _flat(value: Value) -> str:
    return value if isinstance(value, str) else value.code(0, 0) if isinstance(value, Call) else "\n"


def _nested(value: Value, indent: int, column: int) -> str:
    return value if isinstance(value, str) else value.code(indent, column)


def _comment(arg: cst.Arg) -> str | None:
    whitespace = arg.comma.whitespace_after if isinstance(arg.comma, cst.Comma) else None
    if isinstance(whitespace, cst.ParenthesizedWhitespace) and whitespace.first_line.comment:
        return whitespace.first_line.comment.value
    return None


# --- datasets --------------------------------------------------------------------------------------------


@dataclass
class Dataset:
    """One dataset dict being rewritten: where it is (``data.train.dataset``), its resolved 2.x value and the
    migrated bases' 3.x value at the same place."""

    fm: FileMigration
    where: str
    split: str
    old: Mapping
    base: Mapping | None
    whole: bool  # written whole: the 3.x defaults of R6 are due

    def inner(self, key: str | int, name: str, whole: bool) -> Dataset:
        base = value_at(self.base, (key,))
        return Dataset(self.fm, f"{self.where}.{name}", self.split, value_at(self.old, (key,)) or {},
                       base if isinstance(base, Mapping) else None, whole)


def _dataset(node: cst.BaseExpression, ds: Dataset) -> Call:
    keys = dict_call_keys(node) if isinstance(node, cst.Call) else None
    if keys is None:
        raise Refused(ds.where, "not a dict(...) literal")
    whole = ds.whole or "_delete_" in keys
    base_kind = ds.base.get("type") if ds.base is not None else None
    retyped = not whole and "type" in keys and base_kind != ds.old.get("type") and (
        base_kind in (*WRAPPERS, "ConcatDataset") or ds.old.get("type") in (*WRAPPERS, "ConcatDataset"))
    if retyped:
        # A leaf over the 3.x base's wrapper (VOC's lists became a ConcatDataset) or the reverse: the keys
        # would not merge, so the dataset is written whole, the base's deleted, when the file writes all of it.
        inherited = sorted(set(ds.old) - set(keys))
        if inherited:
            raise Refused(f"{ds.where}.type", f"changes the type of an inherited dataset and keeps its {inherited}")
        whole = True
    if whole and ds.base is not None and (retyped or "_delete_" in keys):
        ds = replace(ds, base=None)  # nothing of the base's dataset is left
    kind = ds.old.get("type")
    if kind in WRAPPERS or kind == "ConcatDataset":
        out = Call(args=[("_delete_", "True")] if retyped else [])
        for name, arg in keys.items():
            if name == "dataset" and kind in WRAPPERS:
                out.add(name, _dataset(arg.value, ds.inner("dataset", "dataset", whole)), _comment(arg))
            elif name == "datasets" and kind == "ConcatDataset":
                out.add(name, _dataset_list(arg.value, ds, whole), _comment(arg))
            elif name in KEPT:
                out.add(name, node_code(arg.value), _comment(arg))
            else:
                raise Refused(f"{ds.where}.{name}", f"{kind} argument with no known 3.x form")
        return out
    ann = keys.get("ann_file")
    if not whole and base_kind == "ConcatDataset" and kind not in (*WRAPPERS, "ConcatDataset"):
        out = _into_concatenated(keys, ds)
    elif ann is not None and isinstance(ann.value, (cst.List, cst.Tuple)):
        out = _concatenated(keys, ds, whole)
    else:
        out = _leaf(keys, ds, whole)
    if retyped:
        out.args.insert(0, ("_delete_", "True"))
    return out


def _dataset_list(node: cst.BaseExpression, ds: Dataset, whole: bool) -> Items:
    if not isinstance(node, cst.List):
        raise Refused(f"{ds.where}.datasets", "not a [...] literal")
    return Items([_dataset(e.value, ds.inner(i, f"datasets.{i}", whole)) for i, e in enumerate(node.elements)])


def _concatenated(keys: Mapping[str, cst.Arg], ds: Dataset, whole: bool) -> Call:
    """2.x ``build_dataset`` turns list ``ann_file``/``img_prefix`` into a ``ConcatDataset`` of one set per file."""
    files = keys["ann_file"].value
    prefixes = keys.get("img_prefix")
    count = len(files.elements)
    if prefixes is None or not isinstance(prefixes.value, (cst.List, cst.Tuple)) or len(prefixes.value.elements) != count:
        raise Refused(f"{ds.where}.img_prefix", "a list ann_file needs an img_prefix list of the same length")
    items = []
    for index in range(count):
        single = dict(keys)
        single["ann_file"] = keys["ann_file"].with_changes(value=files.elements[index].value)
        single["img_prefix"] = prefixes.with_changes(value=prefixes.value.elements[index].value)
        old = dict(ds.old, ann_file=ds.old["ann_file"][index], img_prefix=ds.old["img_prefix"][index])
        items.append(_leaf(single, Dataset(ds.fm, ds.where, ds.split, old, None, whole), whole))
    out = Call()
    out.add("type", "'ConcatDataset'")
    # 3.x ConcatDataset refuses sets whose metainfo differs (VOC's `dataset_type` does); 2.x never compared them.
    out.add("ignore_keys", "['dataset_type']")
    out.add("datasets", Items(items))
    return out


def _into_concatenated(keys: Mapping[str, cst.Arg], ds: Dataset) -> Call:
    """A partial override of a 2.x set whose list ``ann_file`` the migrated bases made a ``ConcatDataset``: it
    goes to each of its ``datasets``, written whole from the bases' (lists do not merge), as the ports do."""
    written_paths = sorted(set(keys) & {*JOINED_PATHS, *PREFIXES})
    if written_paths:
        raise Refused(f"{ds.where}.{written_paths[0]}", "rewrites the paths of sets the bases concatenated")
    items = []
    for index, base in enumerate(ds.base.get("datasets") or []):
        override = _leaf(keys, Dataset(ds.fm, f"{ds.where}.datasets.{index}", ds.split, ds.old, base, False), False)
        changed = dict(override.args)
        for key, value in changed.items():
            if isinstance(value, Call) and isinstance(base.get(key), Mapping):
                # a list item is written whole: a partial dict there would replace the base's, not merge
                raise Refused(f"{ds.where}.{key}", "a partial override inside the sets the bases concatenated")
        item = Call(args=[(key, changed.pop(key) if key in changed else _as_written(ds.fm, key, value))
                          for key, value in base.items()], comments=override.comments)
        item.args += changed.items()
        items.append(item)
    return Call(args=[("datasets", Items(items))])


def _as_written(fm: FileMigration, key: str, value: object) -> str:
    """A value of a base's dataset as source: the file's ``dataset_type`` / ``data_root`` where it holds it."""
    variable = {"type": "dataset_type", "data_root": "data_root"}.get(key)
    if variable is not None and fm.written(variable) is not None and fm.old.get(variable) == value:
        return variable
    return render(value)


def _split_path(node: cst.BaseExpression) -> tuple[str | None, str]:
    """``data_root + 'x/'`` -> (``'data_root'``, ``'x/'``); ``'x/'`` -> (None, ``'x/'``); ``data_root`` -> (``'data_root'``, '')."""
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add):
        rest = node.right.evaluated_value if isinstance(node.right, (cst.SimpleString, cst.ConcatenatedString)) else None
        if isinstance(rest, str):
            return node_code(node.left.with_changes(lpar=[], rpar=[])).strip(), rest
    if isinstance(node, cst.SimpleString) and string_value(node) is not None:
        return None, string_value(node)
    if isinstance(node, (cst.Name, cst.Attribute)):
        return node_code(node), ""
    raise ValueError


def _leaf(keys: Mapping[str, cst.Arg], ds: Dataset, whole: bool) -> Call:
    kind = ds.old.get("type")
    paths: dict[str, tuple[str | None, str]] = {}
    for name in (*JOINED_PATHS, *PREFIXES):
        if name in keys:
            try:
                paths[name] = _split_path(keys[name].value)
            except ValueError:
                raise Refused(f"{ds.where}.{name}", "not `prefix + 'literal'` or a plain string") from None
    data_root = _data_root(paths, keys, ds)
    out = Call()
    prefix_done = filter_done = False
    for name, arg in keys.items():
        comment = _comment(arg)
        if name in JOINED_PATHS:
            if data_root is not None and "data_root" not in keys and out.get("data_root") is None:
                out.add("data_root", data_root)
            value = repr(paths[name][1]) if data_root not in (None, "''") else node_code(arg.value)
            out.add(name, value, comment)
        elif name in PREFIXES:
            if prefix_done:
                continue
            prefix_done = True
            if data_root is not None and "data_root" not in keys and out.get("data_root") is None:
                out.add("data_root", data_root)
            prefix = Call()
            for old_name, new_name in PREFIXES.items():
                if old_name in keys:
                    if old_name == "img_prefix" and kind in SUB_DATA_ROOT:
                        new_name = "sub_data_root"
                    text = repr(paths[old_name][1]) if data_root not in (None, "''") else node_code(keys[old_name].value)
                    prefix.add(new_name, text)
            out.add("data_prefix", prefix, comment)
        elif name == "classes":
            out.add("metainfo", Call(args=[("classes", node_code(arg.value))]), comment)
        elif name in ("filter_empty_gt", "min_size"):
            if filter_done:
                continue
            filter_done = True
            out.add("filter_cfg", _filter(keys, ds, whole), comment)
        elif name == "samples_per_gpu" and ds.where.count(".") == 1:
            continue  # read by the dataloader (R45)
        elif name in KEPT:
            if name == "pipeline" and whole:
                _defaults(out, keys, ds)
            out.add(name, node_code(arg.value), comment)
        else:
            raise Refused(f"{ds.where}.{name}", "dataset argument with no known 3.x form")
    if whole and "pipeline" not in keys:
        _defaults(out, keys, ds)
    if whole and kind in ("OpenImagesDataset", "OpenImagesChallengeDataset") and "meta_file" not in keys:
        ds.fm.refuse(f"{ds.where}.meta_file", "3.x OpenImagesDataset needs meta_file (the image sizes 2.x read from "
                     "the images): write the path of the metas .pkl")
    return out


def _defaults(out: Call, keys: Mapping[str, cst.Arg], ds: Dataset) -> None:
    """R6: what 2.x did implicitly, written out as the official ports do."""
    if ds.split == "train" and not {"filter_empty_gt", "min_size", "filter_cfg"} & set(keys):
        out.add("filter_cfg", _filter(keys, ds, True))
    elif ds.split != "train" and "test_mode" not in keys:
        out.add("test_mode", "True")


def _filter(keys: Mapping[str, cst.Arg], ds: Dataset, whole: bool) -> Call:
    out = Call()
    empty = keys.get("filter_empty_gt")
    if empty is not None or whole:
        out.add("filter_empty_gt", node_code(empty.value) if empty is not None else "True")
    if whole:
        out.add("min_size", "32")  # 2.x CustomDataset._filter_imgs(min_size=32)
    if "min_size" in keys:
        if ds.old.get("type") not in XML_DATASETS:
            raise Refused(f"{ds.where}.min_size", "min_size is a box filter of the XML datasets only")
        out.add("bbox_min_size", node_code(keys["min_size"].value))
    return out


def _data_root(paths: Mapping[str, tuple[str | None, str]], keys: Mapping[str, cst.Arg], ds: Dataset) -> str | None:
    """The prefix every path shares (to become ``data_root=``), or None where the paths are plain strings."""
    if "data_root" in keys:
        return None  # 2.x joined the paths with it already: they stay as written
    prefixes = {prefix for prefix, _ in paths.values()}
    if not paths or prefixes == {None}:
        inherited = value_at(ds.base, ("data_root",))
        # 2.x read plain paths as they are; a 3.x base's data_root would be joined in front of them.
        return "''" if paths and inherited else None
    if len(prefixes) != 1:
        first = next(iter(paths.values()))[0]
        name = next(n for n, (p, _) in paths.items() if p != first)
        raise Refused(f"{ds.where}.{name}", "the paths do not share one data_root prefix")
    (prefix,) = prefixes
    name, (_, rest) = next(iter(paths.items()))
    resolved = ds.old.get(name)
    if isinstance(resolved, str) and resolved.endswith(rest):
        root = resolved[: len(resolved) - len(rest)]
        if root and not root.endswith("/") and rest:
            raise Refused(f"{ds.where}.{name}", f"data_root {root!r} does not end in '/': os.path.join would add one")
    return prefix


# --- dataloaders -----------------------------------------------------------------------------------------


def _loader_overrides(fm: FileMigration, data: Mapping[str, cst.Arg], split: str, out: Call) -> None:
    """R45: ``data.<split>_dataloader = dict(...)`` (2.x build_dataloader arguments)."""
    arg = data.get(f"{split}_dataloader")
    if arg is None:
        return
    keys = dict_call_keys(arg.value) if isinstance(arg.value, cst.Call) else None
    if keys is None:
        raise Refused(f"data.{split}_dataloader", "not a dict(...) literal")
    for name, item in keys.items():
        if name in LOADER_KEYS:
            out.add(LOADER_KEYS[name], node_code(item.value))
        elif name == "shuffle":
            out.add("sampler", Call(args=[("shuffle", node_code(item.value))]))
        elif name == "class_aware_sampler" and dict_call_keys(item.value) is not None:
            sampler = Call(args=[("_delete_", "True"), ("type", "'ClassAwareSampler'")])
            for key, value in dict_call_keys(item.value).items():
                sampler.add(key, node_code(value.value))
            out.add("sampler", sampler)
        else:
            raise Refused(f"data.{split}_dataloader.{name}", "dataloader argument with no known 3.x form")


def _loader(fm: FileMigration, data: Mapping[str, cst.Arg], split: str, whole: bool) -> Call | None:
    """The 3.x dataloader for ``split``: whole (official defaults) or the partial override the file writes."""
    old = fm.old.get("data", {})
    out = Call()
    if whole and "_delete_" in data and fm.inherits(f"{split}_dataloader"):
        out.add("_delete_", "True")
    written_size = "imgs_per_gpu" if "imgs_per_gpu" in data else "samples_per_gpu"
    dataset = data.get(split)
    dataset_keys = dict_call_keys(dataset.value) if dataset is not None and isinstance(dataset.value, cst.Call) else None
    if split == "train" and written_size in data:
        out.add("batch_size", node_code(data[written_size].value), _comment(data[written_size]))
    elif split != "train" and dataset_keys and "samples_per_gpu" in dataset_keys:
        out.add("batch_size", node_code(dataset_keys["samples_per_gpu"].value))
    elif whole:
        size = old.get("imgs_per_gpu", old.get("samples_per_gpu", 2)) if split == "train" else value_at(old, (split, "samples_per_gpu")) or 1
        out.add("batch_size", render(size))
    if "workers_per_gpu" in data:
        out.add("num_workers", node_code(data["workers_per_gpu"].value), _comment(data["workers_per_gpu"]))
    elif whole:
        out.add("num_workers", render(old.get("workers_per_gpu", 2)))
    if split == "train" and "persistent_workers" in data:
        out.add("persistent_workers", node_code(data["persistent_workers"].value), _comment(data["persistent_workers"]))
    elif whole:
        out.add("persistent_workers", render(bool(old.get("workers_per_gpu", 2))))
    if whole and split != "train":
        out.add("drop_last", "False")
    if whole:
        sampler = "InfiniteSampler" if split == "train" and fm.iteration_based else "DefaultSampler"
        out.add("sampler", Call(args=[("type", repr(sampler)), ("shuffle", str(split == "train"))]))
        if split == "train" and value_at(old, ("train", "type")) != "MultiImageMixDataset":
            out.add("batch_sampler", Call(args=[("type", "'AspectRatioBatchSampler'")]))
    elif split == "train" and fm.iteration_based and value_at(fm.base, ("train_dataloader", "sampler", "type")) != "InfiniteSampler":
        out.add("sampler", Call(args=[("type", "'InfiniteSampler'")]))
    _loader_overrides(fm, data, split, out)
    if dataset is not None:
        out.add("dataset", _loader_dataset(fm, dataset, split, whole), _comment(dataset))
    elif whole and value_at(fm.old, ("data", split)) is not None:
        raise Refused(f"data.{split}", f"no 3.x base provides {split}_dataloader and the file writes no {split} set")
    elif whole:
        return None
    return out if out.args else None


def _loader_dataset(fm: FileMigration, arg: cst.Arg, split: str, whole: bool) -> str | Call:
    base = value_at(fm.base, (f"{split}_dataloader", "dataset"))
    ds = Dataset(fm, f"data.{split}", split, value_at(fm.old, ("data", split)) or {}, base if isinstance(base, Mapping) else None,
                 whole)
    if isinstance(arg.value, cst.Name):  # `train=train_dataset`: rewrite the variable where it is written
        written = fm.written(arg.value.value)
        if written is None:
            raise Refused(f"data.{split}", f"{arg.value.value} is not written in this file")
        fm.set(arg.value.value, _dataset(written, ds).code(0, len(arg.value.value) + 3))
        return arg.value.value
    return _dataset(arg.value, ds)


def migrate_dataloaders(fm: FileMigration) -> None:
    node = fm.written("data")
    if node is None:
        _sampler_only(fm)
        return
    data = dict_call_keys(node) if isinstance(node, cst.Call) else None
    if data is None:
        fm.refuse("data", "not a dict(...) literal", keep=("data",))
        return
    unknown = set(data) - {*SPLITS, *LOADER_KEYS, "_delete_", *(f"{s}_dataloader" for s in SPLITS)}
    for name in sorted(unknown):
        fm.refuse(f"data.{name}", "no known 3.x form", keep=(f"data.{name}",))
    loaders: dict[str, str] = {}
    for split in SPLITS:
        whole = "_delete_" in data or not fm.inherits(f"{split}_dataloader")
        try:
            loader = _loader(fm, data, split, whole)
        except Refused as refused:
            fm.refuse(refused.construct, refused.reason, keep=(f"data.{split}",))
            continue
        if loader is not None:
            loaders[split] = loader.code(0, len(f"{split}_dataloader = "))
    after = "data"
    for split, code in loaders.items():
        name = f"{split}_dataloader"
        if split == "test" and loaders.get("val") == code:
            code = "val_dataloader"
        fm.set(name, code, after=after)
        after = name
    if loaders and not any(key == "data" or key.startswith("data.") for key in fm.kept):
        # The loaders carry the comments of `data`; the statement is emptied (its comment lines go above the
        # first loader) for the framework to drop without moving them twice.
        _take_leading_lines(fm, "data", f"{next(iter(loaders))}_dataloader")
        fm.set("data", "dict()")


def _take_leading_lines(fm: FileMigration, source: str, target: str) -> None:
    body = list(fm.module.body)
    names = [assigned_name(statement) for statement in body]
    old, new = names.index(source), names.index(target)
    body[new] = body[new].with_changes(leading_lines=[*body[old].leading_lines, *body[new].leading_lines])
    body[old] = body[old].with_changes(leading_lines=[])
    fm.module = fm.module.with_changes(body=body)


def _sampler_only(fm: FileMigration) -> None:
    """R42 in a file that writes no ``data``: an iteration-based runner over an epoch-based 3.x loader."""
    if "runner" in fm.old and fm.written("runner") is not None and fm.iteration_based:
        if value_at(fm.base, ("train_dataloader", "sampler", "type")) not in (None, "InfiniteSampler"):
            fm.set_nested("train_dataloader", ("sampler",), "dict(type='InfiniteSampler')")


_COCO = """
    dataset_type = 'CocoDataset'
    data_root = 'data/coco/'
    pipeline = [dict(type='LoadImageFromFile')]
    data = dict(
        samples_per_gpu=2,
        workers_per_gpu=2,
        train=dict(
            type=dataset_type,
            ann_file=data_root + 'annotations/instances_train2017.json',
            img_prefix=data_root + 'train2017/',
            pipeline=pipeline),
        val=dict(
            type=dataset_type,
            ann_file=data_root + 'annotations/instances_val2017.json',
            img_prefix=data_root + 'val2017/',
            pipeline=pipeline),
        test=dict(
            type=dataset_type,
            ann_file=data_root + 'annotations/instances_val2017.json',
            img_prefix=data_root + 'val2017/',
            pipeline=pipeline))
"""

STEPS = (
    Step(
        id="R4, R5, R6, R42, R44, R45",
        summary="`data` becomes train/val/test_dataloader; dataset paths move under data_root and data_prefix",
        run=migrate_dataloaders,
        examples=(
            Example(
                title="a dataset config without bases: the official 3.x defaults written out",
                before=_COCO,
                after="""
                dataset_type = 'CocoDataset'
                data_root = 'data/coco/'
                pipeline = [dict(type='LoadImageFromFile')]
                train_dataloader = dict(
                    batch_size=2,
                    num_workers=2,
                    persistent_workers=True,
                    sampler=dict(type='DefaultSampler', shuffle=True),
                    batch_sampler=dict(type='AspectRatioBatchSampler'),
                    dataset=dict(
                        type=dataset_type,
                        data_root=data_root,
                        ann_file='annotations/instances_train2017.json',
                        data_prefix=dict(img='train2017/'),
                        filter_cfg=dict(filter_empty_gt=True, min_size=32),
                        pipeline=pipeline))
                val_dataloader = dict(
                    batch_size=1,
                    num_workers=2,
                    persistent_workers=True,
                    drop_last=False,
                    sampler=dict(type='DefaultSampler', shuffle=False),
                    dataset=dict(
                        type=dataset_type,
                        data_root=data_root,
                        ann_file='annotations/instances_val2017.json',
                        data_prefix=dict(img='val2017/'),
                        test_mode=True,
                        pipeline=pipeline))
                test_dataloader = val_dataloader
                val_evaluator = dict(
                    type='CocoMetric',
                    ann_file=data_root + 'annotations/instances_val2017.json',
                    metric='bbox',
                    format_only=False)
                test_evaluator = val_evaluator
                """,
            ),
            Example(
                title="a child writing part of `data` gets the partial 3.x override",
                before="""
                _base_ = './coco.py'
                train_pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')]
                # four images a GPU
                data = dict(samples_per_gpu=4, train=dict(pipeline=train_pipeline))
                """,
                after="""
                _base_ = './coco.py'
                train_pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')]
                # four images a GPU
                train_dataloader = dict(batch_size=4, dataset=dict(pipeline=train_pipeline))
                """,
                files={"coco.py": _COCO},
            ),
            Example(
                title="a wrapper of the bases is followed into `dataset=`",
                before="""
                _base_ = './repeat.py'
                data = dict(train=dict(dataset=dict(pipeline=[dict(type='LoadImageFromFile')])))
                """,
                after="""
                _base_ = './repeat.py'
                train_dataloader = dict(
                    dataset=dict(dataset=dict(pipeline=[dict(type='LoadImageFromFile')])))
                """,
                files={"repeat.py": """
                    data_root = 'data/coco/'
                    data = dict(
                        train=dict(
                            type='RepeatDataset',
                            times=3,
                            dataset=dict(
                                type='CocoDataset',
                                ann_file=data_root + 'train.json',
                                img_prefix=data_root + 'train/')))
                    """},
            ),
            Example(
                title="a child's pipeline over a set the bases concatenated goes to each of its datasets",
                before="""
                _base_ = './voc0712.py'
                dataset_type = 'VOCDataset'
                data_root = 'data/VOCdevkit/'
                train_pipeline = [dict(type='LoadImageFromFile')]
                data = dict(train=dict(dataset=dict(pipeline=train_pipeline)))
                """,
                after="""
                _base_ = './voc0712.py'
                dataset_type = 'VOCDataset'
                data_root = 'data/VOCdevkit/'
                train_pipeline = [dict(type='LoadImageFromFile')]
                train_dataloader = dict(
                    dataset=dict(
                        dataset=dict(
                            datasets=[
                                dict(
                                    type=dataset_type,
                                    data_root=data_root,
                                    ann_file='VOC2007/trainval.txt',
                                    data_prefix=dict(sub_data_root='VOC2007/'),
                                    filter_cfg=dict(filter_empty_gt=True, min_size=32),
                                    pipeline=train_pipeline),
                                dict(
                                    type=dataset_type,
                                    data_root=data_root,
                                    ann_file='VOC2012/trainval.txt',
                                    data_prefix=dict(sub_data_root='VOC2012/'),
                                    filter_cfg=dict(filter_empty_gt=True, min_size=32),
                                    pipeline=train_pipeline)
                            ])))
                """,
                files={"voc0712.py": """
                    dataset_type = 'VOCDataset'
                    data_root = 'data/VOCdevkit/'
                    data = dict(
                        train=dict(
                            type='RepeatDataset',
                            times=3,
                            dataset=dict(
                                type=dataset_type,
                                ann_file=[data_root + 'VOC2007/trainval.txt', data_root + 'VOC2012/trainval.txt'],
                                img_prefix=[data_root + 'VOC2007/', data_root + 'VOC2012/'],
                                pipeline=[])))
                    """},
            ),
            Example(
                title="_delete_, classes, loader overrides and workers (which 2.x gave every loader)",
                before="""
                _base_ = './coco.py'
                data_root = 'data/people/'
                pipeline = [dict(type='LoadImageFromFile')]
                data = dict(
                    workers_per_gpu=4,
                    train=dict(
                        _delete_=True,
                        type='RepeatDataset',
                        times=3,  # three passes an epoch
                        dataset=dict(
                            type='CocoDataset',
                            ann_file=data_root + 'train.json',
                            img_prefix=data_root + 'images/',
                            classes=('person',),
                            pipeline=pipeline)),
                    train_dataloader=dict(class_aware_sampler=dict(num_sample_class=1)))
                """,
                after="""
                _base_ = './coco.py'
                data_root = 'data/people/'
                pipeline = [dict(type='LoadImageFromFile')]
                train_dataloader = dict(
                    num_workers=4,
                    sampler=dict(_delete_=True, type='ClassAwareSampler', num_sample_class=1),
                    dataset=dict(
                        _delete_=True,
                        type='RepeatDataset',
                        times=3,  # three passes an epoch
                        dataset=dict(
                            type='CocoDataset',
                            data_root=data_root,
                            ann_file='train.json',
                            data_prefix=dict(img='images/'),
                            metainfo=dict(classes=('person',)),
                            filter_cfg=dict(filter_empty_gt=True, min_size=32),
                            pipeline=pipeline)))
                val_dataloader = dict(num_workers=4)
                test_dataloader = val_dataloader
                """,
                files={"coco.py": _COCO},
            ),
            Example(
                title="VOC: list ann_file -> ConcatDataset, img_prefix -> data_prefix.sub_data_root, no workers",
                before="""
                dataset_type = 'VOCDataset'
                data_root = 'data/VOCdevkit/'
                data = dict(
                    samples_per_gpu=2,
                    workers_per_gpu=0,
                    train=dict(
                        type=dataset_type,
                        ann_file=[
                            data_root + 'VOC2007/ImageSets/Main/trainval.txt',
                            data_root + 'VOC2012/ImageSets/Main/trainval.txt'
                        ],
                        img_prefix=[data_root + 'VOC2007/', data_root + 'VOC2012/'],
                        pipeline=[]),
                    val=dict(
                        type=dataset_type,
                        ann_file=data_root + 'VOC2007/ImageSets/Main/test.txt',
                        img_prefix=data_root + 'VOC2007/',
                        pipeline=[]))
                """,
                after="""
                dataset_type = 'VOCDataset'
                data_root = 'data/VOCdevkit/'
                train_dataloader = dict(
                    batch_size=2,
                    num_workers=0,
                    persistent_workers=False,
                    sampler=dict(type='DefaultSampler', shuffle=True),
                    batch_sampler=dict(type='AspectRatioBatchSampler'),
                    dataset=dict(
                        type='ConcatDataset',
                        ignore_keys=['dataset_type'],
                        datasets=[
                            dict(
                                type=dataset_type,
                                data_root=data_root,
                                ann_file='VOC2007/ImageSets/Main/trainval.txt',
                                data_prefix=dict(sub_data_root='VOC2007/'),
                                filter_cfg=dict(filter_empty_gt=True, min_size=32),
                                pipeline=[]),
                            dict(
                                type=dataset_type,
                                data_root=data_root,
                                ann_file='VOC2012/ImageSets/Main/trainval.txt',
                                data_prefix=dict(sub_data_root='VOC2012/'),
                                filter_cfg=dict(filter_empty_gt=True, min_size=32),
                                pipeline=[])
                        ]))
                val_dataloader = dict(
                    batch_size=1,
                    num_workers=0,
                    persistent_workers=False,
                    drop_last=False,
                    sampler=dict(type='DefaultSampler', shuffle=False),
                    dataset=dict(
                        type=dataset_type,
                        data_root=data_root,
                        ann_file='VOC2007/ImageSets/Main/test.txt',
                        data_prefix=dict(sub_data_root='VOC2007/'),
                        test_mode=True,
                        pipeline=[]))
                val_evaluator = dict(type='VOCMetric', metric='mAP', eval_mode='11points')
                """,
            ),
        ),
    ),
)
