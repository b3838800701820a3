"""``mathdnn export MODEL.safetensors model.onnx``: a trained model as ONNX, for any ONNX runtime.

The model is rebuilt from its checkpoint (``mathdnn.checkpoint.load_model``) and written by
``mathdnn.interop.export_onnx`` (atomically, checked by ``onnx.checker``). Needs the optional
``onnx`` package: ``pip install '.[onnx]'`` in the mathdnn checkout.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mathdnn.command import Command, CommandError, positive_int
from mathdnn.io import check_writable


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", metavar="MODEL.safetensors", help="a checkpoint file")
    parser.add_argument("output", metavar="MODEL.onnx", help="the ONNX file to write")
    parser.add_argument(
        "--opset", type=int, default=17, help="ONNX opset, 17 or newer (default 17)"
    )
    parser.add_argument(
        "--batch",
        type=int,
        metavar="N",
        help="a fixed batch size (default: any, a symbolic batch axis)",
    )


def run(args: argparse.Namespace) -> int:
    from mathdnn.checkpoint import load_model
    from mathdnn.interop import export_onnx

    batch = "dynamic" if args.batch is None else positive_int("--batch", args.batch)
    output, checkpoint = Path(args.output), Path(args.checkpoint)
    if output.resolve() == checkpoint.resolve() or (
        output.exists() and checkpoint.exists() and output.samefile(checkpoint)
    ):
        raise CommandError(
            f"MODEL.onnx: {output} is the checkpoint itself; writing the ONNX model there would "
            "destroy the checkpoint"
        )
    check_writable(output, file=True)
    model = load_model(args.checkpoint)
    try:
        path = export_onnx(model, args.output, opset=args.opset, batch=batch)
    except ModuleNotFoundError as err:
        raise CommandError(str(err).replace("export_onnx: ", "", 1)) from None
    print(f"wrote {path} ({type(model).__name__}, opset {args.opset}, batch {batch})")
    return 0


COMMAND = Command(
    "export",
    help="write a trained model (a checkpoint) as an ONNX file",
    description="Rebuild the model saved in a checkpoint (mathdnn train's "
    "checkpoint.safetensors) and write it as an ONNX model (input 'images' (N, 1, 28, 28), "
    "output 'logits'), to run under ONNX Runtime or any other ONNX runtime. Needs "
    "pip install '.[onnx]' in the mathdnn checkout.",
    arguments=arguments,
    run=run,
)
