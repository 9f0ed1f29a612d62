"""Passes `button export --for TRAINER` files through the trainers' own code.

    python check.py llamafactory DIR   (venv: LLaMA-Factory + datasets 4.0.0, its pin)
    python check.py trl DIR            (venv: TRL + datasets 5.x + transformers 5.x)

DIR holds the four exports of one workspace, in the same sample order: openai.jsonl (the
reference: the OpenAI fine-tuning layout, thoughts in content, arguments as JSON text),
trl.jsonl, llamafactory.jsonl, llamafactory-openai.jsonl and the dataset_info.json that
`--for llamafactory*` wrote. For each trainer it asserts, row by row against the
reference: every row is kept; the thought before each call is in the trained text; each
call's arguments are trained as a JSON object, not a JSON string holding one; and the
tools the prompt lists are exactly the row's own (no `null` parameters merged in from
other rows by Arrow). Nothing here needs torch: LLaMA-Factory's modules that import it
at load time (its collator, multimodal plugin and misc helpers, and peft for two file
names) are replaced by stubs;
the converter, parser, template, formatters and tool formats are its real code.
"""

import json
import os
import sys
import types


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def reference(d):
    """Per row: the tools, and per call turn its thought and its calls' arguments."""
    rows = []
    for r in read_jsonl(os.path.join(d, "openai.jsonl")):
        turns = []
        for m in r["messages"]:
            if m.get("tool_calls"):
                args = [json.loads(c["function"]["arguments"]) for c in m["tool_calls"]]
                turns.append(((m.get("content") or "").strip(), args))
        rows.append({"tools": [t["function"] for t in r["tools"]], "turns": turns})
    if not rows:
        fail("openai.jsonl is empty")
    return rows


def byte_tokenizer():
    """A tokenizer with one token per byte (decode(encode(x)) == x) and ChatML's tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    tok = Tokenizer(models.BPE(vocab={c: i for i, c in enumerate(sorted(alphabet))}, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>", "<|im_end|>"],
    )


def check_trained(name, i, text, ref):
    """The trained text of row i holds each thought and each call's arguments as an object."""
    for thought, args in ref["turns"]:
        if thought and thought not in text:
            fail(f"{name} row {i}: the thought before a call is not in the trained text: {thought[:80]!r}")
        for a in args:
            obj = json.dumps(a, ensure_ascii=False)
            if obj not in text:
                fail(f"{name} row {i}: arguments {obj[:80]} are not in the trained text as an object")
            if json.dumps(obj, ensure_ascii=False) in text:
                fail(f"{name} row {i}: arguments {obj[:80]} are trained as a JSON string (encoded twice)")


def check_tools(name, i, tools, ref):
    got = [t.get("function", t) for t in tools]
    if got != ref["tools"]:
        fail(f"{name} row {i}: the tools are not the row's own:\n  got  {got}\n  want {ref['tools']}")


def load_json(path):
    import datasets

    return datasets.load_dataset("json", data_files=path, split="train")


def check_loader(d, ref, names):
    """HF datasets' JSON loader keeps every export's tools and text as written."""
    import datasets

    for name in names:
        ds = load_json(os.path.join(d, f"{name}.jsonl"))
        if len(ds) != len(ref):
            fail(f"datasets {datasets.__version__} loaded {len(ds)} of {len(ref)} rows of {name}")
        for i, row in enumerate(ds):
            check_tools(f"{name} (datasets {datasets.__version__})", i, json.loads(row["tools"]), ref[i])
    print(f"ok: datasets {datasets.__version__} json loader keeps all {len(ref)} rows and their tools: {', '.join(names)}")


def stub_torch_modules():
    """The modules that import torch at load time (LLaMA-Factory's collator, multimodal
    plugin and misc helpers, and peft), replaced by what the text path needs of them."""

    def module(name, **attrs):
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        sys.modules[name] = m

    class Dummy:
        def __init__(self, *a, **k):
            pass

    module(
        "llamafactory.data.collator",
        KTODataCollatorWithPadding=Dummy,
        MultiModalDataCollatorForSeq2Seq=Dummy,
        PairwiseDataCollatorWithPadding=Dummy,
        SFTDataCollatorWith4DAttentionMask=Dummy,
    )

    class TextOnlyPlugin:
        """BasePlugin's behaviour without media: messages and ids pass unchanged."""

        def __init__(self, *a, **k):
            pass

        def process_messages(self, messages, images, videos, audios, processor):
            if images or videos or audios:
                raise ValueError("media in a text-only check")
            return messages

        def process_token_ids(self, input_ids, labels, images, videos, audios, tokenizer, processor):
            return input_ids, labels

    # peft (imported by LLaMA-Factory's constants for two file names) imports torch.
    module("peft")
    module("peft.utils", SAFETENSORS_WEIGHTS_NAME="adapter_model.safetensors", WEIGHTS_NAME="adapter_model.bin")
    module("llamafactory.data.mm_plugin", get_mm_plugin=lambda *a, **k: TextOnlyPlugin(), BasePlugin=TextOnlyPlugin)
    module(
        "llamafactory.extras.misc",
        use_modelscope=lambda: False,
        use_openmind=lambda: False,
        check_version=lambda *a, **k: None,
        has_tokenized_data=lambda *a, **k: False,
    )


def llamafactory(d):
    import datasets

    ref = reference(d)
    # Not the TRL export: TRL (>= 1.0) needs datasets >= 4.7, whose loader reads argument
    # objects of differing shapes as JSON; 4.0 merges them (or stops on a type change).
    check_loader(d, ref, ["llamafactory", "llamafactory-openai"])
    stub_torch_modules()
    from llamafactory.data.converter import align_dataset
    from llamafactory.data.parser import get_dataset_list
    from llamafactory.data.template import get_template_and_fix_tokenizer

    data_args = types.SimpleNamespace(
        template="qwen",
        tool_format=None,
        default_system=None,
        enable_thinking=True,
        preserve_thinking=False,
        train_on_prompt=False,
        streaming=False,
        preprocessing_num_workers=None,
        overwrite_cache=True,
    )
    training_args = types.SimpleNamespace(local_process_index=0)
    tokenizer = byte_tokenizer()
    template = get_template_and_fix_tokenizer(tokenizer, data_args)
    for name in ["llamafactory", "llamafactory-openai"]:
        (attr,) = get_dataset_list([name], d)  # the dataset_info.json entry button wrote
        ds = load_json(os.path.join(d, attr.dataset_name))  # as LLaMA-Factory's loader loads a file
        aligned = align_dataset(ds, attr, data_args, training_args)
        if len(aligned) != len(ref):
            fail(f"{name}: {len(aligned)} of {len(ref)} rows aligned")
        for i, ex in enumerate(aligned):
            # LLaMA-Factory's supervised processor drops these as invalid.
            if len(ex["_prompt"]) % 2 != 1 or len(ex["_response"]) != 1:
                fail(f"{name} row {i} is dropped by LLaMA-Factory: {len(ex['_prompt'])} prompt turns")
            check_tools(name, i, json.loads(ex["_tools"]), ref[i])
            messages = ex["_prompt"] + ex["_response"]
            pairs = template.encode_multiturn(tokenizer, messages, ex["_system"], ex["_tools"])
            trained = "".join(tokenizer.decode(target) for _, target in pairs)
            check_trained(name, i, trained, ref[i])
            prompt = tokenizer.decode(pairs[0][0])
            for t in ref[i]["tools"]:
                if json.dumps(t["name"]) not in prompt:
                    fail(f"{name} row {i}: tool {t['name']} is not in the prompt")
        print(
            f"ok: LLaMA-Factory {version('llamafactory')} ({attr.formatting}, template qwen), "
            f"datasets {datasets.__version__}: {len(ref)} rows kept, thoughts trained, arguments as objects, tools intact"
        )


def version(pkg):
    from importlib.metadata import version as v

    return v(pkg)


def trl(d):
    import datasets
    import trl as trl_pkg
    from trl.data_utils import is_conversational

    ref = reference(d)
    check_loader(d, ref, ["trl", "llamafactory", "llamafactory-openai"])
    template_path = os.path.join(os.path.dirname(trl_pkg.__file__), "chat_templates", "qwen2_5.jinja")
    with open(template_path, encoding="utf-8") as f:
        chat_template = f.read()
    tokenizer = byte_tokenizer()
    ds = load_json(os.path.join(d, "trl.jsonl"))
    if len(ds) != len(ref):
        fail(f"trl: {len(ds)} of {len(ref)} rows loaded")
    for i, example in enumerate(ds):
        if not is_conversational(example):
            fail(f"trl row {i} is not conversational to TRL")
        # What SFTTrainer's tokenize_fn does with a row.
        tools = example.get("tools")
        tools = json.loads(tools) if isinstance(tools, str) else tools
        check_tools("trl", i, tools, ref[i])
        out = tokenizer.apply_chat_template(
            example["messages"], tools=tools, chat_template=chat_template, tokenize=True, return_dict=True
        )
        text = tokenizer.decode(out["input_ids"])
        check_trained("trl", i, text, ref[i])
        for t in tools:
            if json.dumps(t, ensure_ascii=False) not in text:
                fail(f"trl row {i}: tool {t['function']['name']} is not in the prompt as written")
    print(
        f"ok: TRL {version('trl')} (Qwen2.5 template), transformers {version('transformers')}, "
        f"datasets {datasets.__version__}: {len(ref)} rows kept, thoughts trained, arguments as objects, tools intact"
    )


def openai_layout(d):
    """The OpenAI fine-tuning layout's rules, as its documentation states them (the API
    itself can't be reached from here)."""
    rows = read_jsonl(os.path.join(d, "openai.jsonl"))
    for i, r in enumerate(rows):
        if not isinstance(r.get("parallel_tool_calls"), bool):
            fail(f"openai row {i}: parallel_tool_calls is missing")
        if not all(t.get("type") == "function" and "name" in t["function"] for t in r["tools"]):
            fail(f"openai row {i}: a tool is not a function")
        open_ids = set()
        for m in r["messages"]:
            if m["role"] == "assistant":
                for c in m.get("tool_calls") or []:
                    if not isinstance(c["function"]["arguments"], str):
                        fail(f"openai row {i}: arguments must be a JSON string")
                    if not isinstance(json.loads(c["function"]["arguments"]), dict):
                        fail(f"openai row {i}: arguments are not an object")
                    open_ids.add(c["id"])
            elif m["role"] == "tool":
                if m["tool_call_id"] not in open_ids or not isinstance(m["content"], str):
                    fail(f"openai row {i}: a tool message answers no call")
            elif not isinstance(m.get("content"), str):
                fail(f"openai row {i}: a {m['role']} message has no text")
        if r["messages"][-1]["role"] != "assistant":
            fail(f"openai row {i}: the last message is not the assistant's")
    print(f"ok: OpenAI fine-tuning layout: {len(rows)} rows")


if __name__ == "__main__":
    which, d = sys.argv[1], sys.argv[2]
    {"llamafactory": llamafactory, "trl": trl, "openai": openai_layout}[which](d)
