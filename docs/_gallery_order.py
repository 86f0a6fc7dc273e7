"""Order of the gallery examples: from first steps to specialised uses."""

ORDER = [
    "plot_quickstart.py",
    "plot_sample_weights.py",
    "plot_alpha_path.py",
    "plot_grid_search.py",
    "plot_non_differentiable.py",
    "plot_skorch_mlp.py",
    "plot_pretrained_finetune.py",
]


class ExampleOrder:
    """Sort key of sphinx-gallery's ``within_subsection_order``."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        rank = ORDER.index(filename) if filename in ORDER else len(ORDER)
        return rank, filename

    def __repr__(self):
        return "ExampleOrder"
