"""A task branching off another task's stack: same numbers as running the layers by hand, training keeps the
other task exact, and combining scorers keeps what each task read."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

TEXTS = [
    "Посылкин потерял посылку, верните деньги",
    "ШопОк молодцы, всё пришло вовремя",
    "Как сменить тариф в Мобилайн?",
    "ок",
]

INTENT_ROWS = [
    ("Как отследить посылку {b}?", "question"),
    ("Подскажите, где офис {b}?", "question"),
    ("Приложение {b} вылетает при входе", "failure"),
    ("Сайт {b} не открывается второй день", "failure"),
    ("{b} хамят и не возвращают деньги", "complaint"),
    ("Жалоба на {b}: обещали и обманули", "complaint"),
    ("Спасибо {b}, всё отлично", "praise"),
    ("{b} лучшие, рекомендую", "praise"),
    ("{b} открыл офис на Ленина", "other"),
    ("В {b} сменился директор", "other"),
]


def _probs(settings, path, quantize=False):
    from models import registry, scoring

    sc = registry.load_scorer(settings, str(path), quantize=quantize)
    return scoring.predict_inputs(sc, TEXTS, batch_size=8)


def _intent_csv(tmp_path):
    brands = ["Посылкин", "ШопОк", "Мобилайн", "Ласточка"]
    rows = [(t.format(b=b), lab, "synthetic") for b in brands for t, lab in INTENT_ROWS]
    f = tmp_path / "intent.csv"
    pd.DataFrame(rows, columns=["text", "label", "source"]).to_csv(f, index=False)
    return f


def test_branch_equals_running_the_layers_by_hand(tiny_bert, tiny_tokenizer):
    from transformers import AutoModel

    from models.network import ScorerNet, encoder_layers

    torch.manual_seed(3)
    base = AutoModel.from_pretrained(tiny_bert).eval()
    tok = tiny_tokenizer
    enc = tok(TEXTS, padding=True, return_tensors="pt")
    ids, mask = enc["input_ids"], enc["attention_mask"]
    net = ScorerNet(base, 0, {"sentiment": 3, "intent": 5}, {"intent": ("sentiment", 1)}).eval()
    assert len(net.tasks["sentiment"].layers) == 2 and len(net.tasks["intent"].layers) == 1
    for p in net.tasks.parameters():  # make the stacks differ from the base and from each other
        p.data.add_(torch.randn_like(p) * 0.05)
    with torch.inference_mode():
        out = net(ids, mask)
        h = net.lower_forward(ids, mask)
        from models.network import additive_mask, run_layers

        mid = run_layers(net.tasks["sentiment"].layers[:1], h, additive_mask(mask, h.dtype))
        assert torch.allclose(out["intent"], net.tasks["intent"](mid, mask), atol=1e-6)
        assert torch.allclose(out["sentiment"], net.tasks["sentiment"](h, mask), atol=1e-6)
        assert torch.allclose(net.task_input("intent", ids, mask), mid, atol=1e-6)
        assert set(net(ids, mask, ["intent"])) == {"intent"}
        # standing alone (a copy of the layer it read in front of its own) computes the same
        net.unbranch("intent")
        assert len(net.tasks["intent"].layers) == 2 and "intent" not in net.branches
        assert torch.allclose(net(ids, mask)["intent"], out["intent"], atol=1e-5)
    # moving the branch point keeps the layers the task already had (same base index), fresh copies elsewhere
    own_top = net.tasks["intent"].layers[1].output.dense.weight.clone()
    net.rebranch("intent", ("sentiment", 1), encoder_layers(base))
    assert torch.equal(net.tasks["intent"].layers[0].output.dense.weight, own_top)
    net.rebranch("intent", None, encoder_layers(base))
    assert torch.equal(net.tasks["intent"].layers[0].output.dense.weight, encoder_layers(base)[0].output.dense.weight)
    with pytest.raises(ValueError, match="cannot branch"):
        net.rebranch("intent", ("intent", 1), encoder_layers(base))
    with pytest.raises(ValueError, match="not an unbranched task"):
        ScorerNet(base, 0, {"a": 2, "b": 2}, {"a": ("b", 1), "b": ("a", 1)})


# two trainings; the fast tier trains once in test_network_train
@pytest.mark.slow
def test_training_a_branch_then_its_source(tiny_settings, tmp_path):
    """Intent trained as a branch of sentiment leaves sentiment exact; retraining sentiment afterwards gives intent
    its own copy of the layer it read, so intent stays exact too."""
    from models import registry
    from models.train import TrainConfig, TrainError, train

    init = tiny_settings.models.sentiment
    f = _intent_csv(tmp_path)
    cfg = dict(epochs=3, batch_size=8, lr_layers=3e-3, lr_head=1e-2, patience=100, max_tokens=32, threads=1, seed=1)
    branched = tmp_path / "branched"
    train(tiny_settings, TrainConfig(task="intent", branch="sentiment@1", **cfg), [f], branched, init_from=init)
    spec = registry.read_spec(branched)
    assert (spec.tasks["intent"].branch_of, spec.tasks["intent"].branch_depth) == ("sentiment", 1)
    sc = registry.load_scorer(tiny_settings, str(branched), quantize=False)
    assert len(sc.net.tasks["intent"].layers) == 0  # split 1 of 2 layers: branched after 1 → the head alone
    p0, p1 = _probs(tiny_settings, init), _probs(tiny_settings, branched)
    assert np.allclose(p0.p_sentiment, p1.p_sentiment, atol=1e-5)
    assert not np.allclose(p0.p_intent, p1.p_intent, atol=1e-3)
    assert "branches off `sentiment`" in (branched / "MODEL_CARD.md").read_text(encoding="utf-8")
    # int8 (smoothed with maxima measured by train) runs the branched network too
    q = _probs(tiny_settings, branched, quantize=True)
    assert np.abs(q.p_intent - p1.p_intent).max() < 0.1

    rows = [
        ("Отличный сервис {b}", "positive"),
        ("{b} ужасно, верните деньги", "negative"),
        ("{b} открыл офис", "neutral"),
    ] * 6
    fs = tmp_path / "sent.csv"
    pd.DataFrame(
        [(t.format(b=b), lab, "synthetic") for b in ("Посылкин", "ШопОк") for t, lab in rows],
        columns=["text", "label", "source"],
    ).to_csv(fs, index=False)
    again = tmp_path / "again"
    train(tiny_settings, TrainConfig(task="sentiment", **cfg), [fs], again, init_from=str(branched))
    spec2 = registry.read_spec(again)
    assert spec2.tasks["intent"].branch_of is None
    p2 = _probs(tiny_settings, again)
    assert np.allclose(p2.p_intent, p1.p_intent, atol=1e-4)
    assert not np.allclose(p2.p_sentiment, p1.p_sentiment, atol=1e-3)
    with pytest.raises(TrainError, match="--branch"):
        TrainConfig(task="intent", branch="intent@1")


def test_combine_takes_the_layers_a_branch_read(tiny_settings, tiny_bert, scorer_factory, tmp_path):
    """Sentiment from one scorer, a branched intent from another: intent keeps what its own scorer gave."""
    from safetensors.torch import load_file, save_file

    from models import registry
    from models.train import combine

    other = scorer_factory(tiny_bert, tmp_path / "other", seed=7, split=0)
    src = scorer_factory(tiny_bert, tmp_path / "src", seed=8, split=0)
    spec = registry.read_spec(src)
    spec.tasks["intent"].branch_of, spec.tasks["intent"].branch_depth = "sentiment", 1
    w = load_file(str(src / registry.WEIGHTS_FILE))
    w = {k: v for k, v in w.items() if not k.startswith("tasks.intent.layers.")}
    w.update(
        {
            k.replace("tasks.sentiment.layers.1.", "tasks.intent.layers.0."): v.clone()
            for k, v in w.items()
            if k.startswith("tasks.sentiment.layers.1.")
        }
    )
    save_file(w, str(src / registry.WEIGHTS_FILE))
    (src / registry.SCORER_FILE).write_text(spec.to_json(), encoding="utf-8")
    both = tmp_path / "both"
    combine({"sentiment": other, "intent": src}, both, settings=tiny_settings)
    assert registry.read_spec(both).tasks["intent"].branch_of is None
    p_both, p_src, p_other = (_probs(tiny_settings, p) for p in (both, src, other))
    assert np.allclose(p_both.p_intent, p_src.p_intent, atol=2e-3)
    assert np.allclose(p_both.p_sentiment, p_other.p_sentiment, atol=2e-3)
    assert not np.allclose(p_other.p_intent, p_src.p_intent, atol=2e-3)
    # both tasks from the same scorer: the branch stays
    same = tmp_path / "same"
    combine({"sentiment": src, "intent": src}, same, settings=tiny_settings)
    assert registry.read_spec(same).tasks["intent"].branch_of == "sentiment"
    assert np.allclose(_probs(tiny_settings, same).p_intent, p_src.p_intent, atol=2e-3)


# two trainings
@pytest.mark.slow
def test_mlp_head_on_the_whole_source_stack(tiny_settings, tmp_path):
    """Intent reading sentiment's finished stack through an MLP head: trained with its input standardised on the
    training set, saved and loaded with it, equal to the head applied by hand to sentiment's pooled output."""
    from models import registry
    from models.network import PooledMLP, additive_mask, mean_pool, run_layers
    from models.train import TrainConfig, train

    init = tiny_settings.models.sentiment
    cfg = dict(epochs=3, batch_size=8, lr_head=1e-2, patience=100, max_tokens=32, threads=1, seed=1)
    out = tmp_path / "mlp"
    data = [_intent_csv(tmp_path)]
    train(
        tiny_settings, TrainConfig(task="intent", branch="sentiment@1", head_width=16, **cfg), data, out, init_from=init
    )
    spec = registry.read_spec(out)
    assert spec.tasks["intent"].head_width == 16 and spec.tasks["intent"].branch_depth == 1
    sc = registry.load_scorer(tiny_settings, str(out), quantize=False)
    head = sc.net.tasks["intent"].head
    assert isinstance(head, PooledMLP) and head.mlp[0].out_features == 16
    assert head.shift.abs().sum() > 0 and not torch.allclose(head.scale, torch.ones_like(head.scale))
    enc = sc.tokenizer(TEXTS, padding=True, return_tensors="pt")
    ids, mask = enc["input_ids"], enc["attention_mask"]
    with torch.inference_mode():
        h = sc.net.lower_forward(ids, mask)
        top = run_layers(sc.net.tasks["sentiment"].layers, h, additive_mask(mask, h.dtype))
        assert torch.allclose(sc.net(ids, mask)["intent"], head(mean_pool(top, mask)), atol=1e-5)
    p0, p1 = _probs(tiny_settings, init), _probs(tiny_settings, out)
    assert np.allclose(p0.p_sentiment, p1.p_sentiment, atol=1e-5)
    card = (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "no encoder layer of its own + an MLP head (hidden width 16)" in card
    q = _probs(tiny_settings, out, quantize=True)
    assert np.abs(q.p_intent - p1.p_intent).max() < 0.1
    # retraining intent with a linear head goes back to one
    lin = tmp_path / "lin"
    train(tiny_settings, TrainConfig(task="intent", head_width=0, **cfg), data, lin, init_from=str(out))
    assert registry.read_spec(lin).tasks["intent"].head_width == 0
    assert isinstance(
        registry.load_scorer(tiny_settings, str(lin), quantize=False).net.tasks["intent"].head, torch.nn.Linear
    )


def test_an_ensemble_head_averages_its_members_and_loads_a_single_heads_weights():
    from models.network import PooledMLP

    torch.manual_seed(0)
    one, three = PooledMLP(8, 4, 5), PooledMLP(8, 4, 5, members=3)
    assert (one.members, three.members) == (1, 3)
    x = torch.randn(6, 8)
    three.eval()
    z = three.member_logits(x)
    assert z.shape == (3, 6, 5) and not torch.allclose(z[0], z[1])  # members start apart
    assert torch.allclose(three(x), z.mean(0))
    # a single head's parameter names are member 0's: older scorers load unchanged
    assert set(one.state_dict()) < set(three.state_dict())
    PooledMLP(8, 4, 5).load_state_dict(one.state_dict())


def test_each_member_of_an_ensemble_learns_from_its_own_loss():
    """Trained on the mean of the members' losses, not on the loss of their mean: a member's gradient does not
    depend on the other members."""
    import numpy as np

    from models.network import TaskStack
    from models.train import Example, _loss

    torch.manual_seed(1)
    ex = [
        Example("t", np.eye(5, dtype=np.float32)[i % 5], mask=np.ones(5, np.float32), hidden=torch.randn(3, 8))
        for i in range(10)
    ]

    def member0_grad(members: int, scale_others: float) -> torch.Tensor:
        torch.manual_seed(2)
        stack = TaskStack(torch.nn.ModuleList(), 8, 5, dropout=0.0, head_width=4, head_members=members)
        with torch.no_grad():
            for m in stack.head.more:
                m[3].weight.mul_(scale_others)
        stack.eval()  # the MLPs' own dropout off: the same arithmetic for any number of members
        (_loss(stack, ex, True, None) * members).backward()
        return stack.head.mlp[0].weight.grad.clone()

    g1 = member0_grad(1, 1.0)
    assert torch.allclose(member0_grad(3, 1.0), g1, atol=1e-6)
    assert torch.allclose(member0_grad(3, 5.0), g1, atol=1e-6)  # other members' outputs change nothing


@pytest.mark.slow
def test_an_ensemble_head_trains_saves_and_loads(tiny_settings, tmp_path):
    from models import registry
    from models.network import PooledMLP
    from models.train import TrainConfig, train

    cfg = dict(epochs=2, batch_size=8, lr_head=1e-2, patience=100, max_tokens=32, threads=1, seed=1)
    out = tmp_path / "ens"
    train(
        tiny_settings,
        TrainConfig(task="intent", branch="sentiment@1", head_width=16, head_members=3, **cfg),
        [_intent_csv(tmp_path)],
        out,
        init_from=tiny_settings.models.sentiment,
    )
    assert registry.read_spec(out).tasks["intent"].head_members == 3
    head = registry.load_scorer(tiny_settings, str(out), quantize=False).net.tasks["intent"].head
    assert isinstance(head, PooledMLP) and head.members == 3
    w = [m[0].weight for m in (head.mlp, *head.more)]
    assert not torch.allclose(w[0], w[1]) and not torch.allclose(w[1], w[2])
    assert "an ensemble of 3 MLP heads" in (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    q, f = _probs(tiny_settings, out, quantize=True), _probs(tiny_settings, out)
    assert np.abs(q.p_intent - f.p_intent).max() < 0.1
