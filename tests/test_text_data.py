"""Text in the data stage: several texts about one image stay one image, kept in one split; batches carry the
token ids and padding masks the model's named inputs ask for."""

import numpy as np

from keras_tl.config import load_config
from keras_tl.data import prepare_data, prepare_text
from keras_tl.run import RunFolder
from tests.helpers import CLASSES, draw_shape
from tests.text_helpers import write_manifest


def write_question_manifest(root, images_per_class=6, questions_per_image=3):
    rows = []
    for c, (kind, color) in enumerate(CLASSES.items()):
        for i in range(images_per_class):
            path = root / "images" / f"{kind}_{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            draw_shape(kind, color, seed=c * 100 + i).save(path)
            # Answers differ per question about the same picture, as in VQA.
            answers = [kind, "yes", "no"][:questions_per_image]
            rows += [{"image": f"images/{path.name}", "label": a, "text": f"question {q} about {kind}?"}
                     for q, a in enumerate(answers)]
    return write_manifest(root / "questions.csv", rows)


def test_rows_sharing_an_image_are_one_image_in_one_split(tmp_path, tiny_bert):
    manifest = write_question_manifest(tmp_path)
    config = load_config(data={"source": str(manifest), "val_fraction": 0.25, "test_fraction": 0.25,
                               "scan_workers": 2},
                         model={"modality": "image_text"}, text={"weights": str(tiny_bert), "max_length": 8})
    run = RunFolder(tmp_path / "run").ensure()
    data = prepare_data(config.data, run, seed=1, multi_label=False)
    assert len(data.report.usable) == 18 and not data.report.duplicates  # 18 pictures, 54 questions
    assert sum(len(samples) for samples in data.splits.values()) == 54
    split_of = {}
    for split, samples in data.splits.items():
        for sample in samples:
            assert split_of.setdefault(sample.path, split) == split
    assert all(data.splits[s] and len(data.splits[s]) % 3 == 0 for s in data.splits)  # whole images in each

    prepare_text(data, run, config.text)
    assert run.tokenizer_file.is_file()
    batch, targets = next(iter(data.dataset("train", image_size=32, batch_size=5, training=False, seed=0,
                                            inputs=["image", "token_ids", "padding_mask"])))
    assert set(batch) == {"image", "token_ids", "padding_mask"} and batch["image"].shape == (5, 32, 32, 3)
    assert batch["token_ids"].shape == (5, 8) and batch["token_ids"].dtype == np.int32
    expected = data.tokenizer.encode([s.text for s in data.splits["train"][:5]])
    np.testing.assert_array_equal(batch["token_ids"].numpy(), expected["token_ids"])
    np.testing.assert_array_equal(batch["padding_mask"].numpy(), expected["padding_mask"])
    assert targets.shape == (5,)
