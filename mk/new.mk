# New work in one command (docs/guides/adding-a-model.md): python -m mlrepo new <kind>.
.PHONY: new-dataset new-model new-pipeline new-deploy new-project new-update

new-dataset: init ## Scaffold datasets/NAME/ (make new-dataset NAME=wine); then fill load_frame()
	$(PY) -m mlrepo new dataset $(NAME)

new-model: init ## Scaffold models/NAME/ with its docs and diagram (make new-model NAME=WineForest); then fill build()
	$(PY) -m mlrepo new model $(NAME) $(if $(DATASET),--dataset $(DATASET))

new-pipeline: init ## Scaffold a pipeline: make new-pipeline NAME=rfv1-winev1 MODEL=WineForest DATASET=wine [TASK=regression] [OF=<studied pipeline>]
	$(PY) -m mlrepo new pipeline $(NAME) $(if $(MODEL),--model $(MODEL)) $(if $(DATASET),--dataset $(DATASET)) $(if $(TASK),--task $(TASK)) $(if $(OF),--of $(OF))

new-deploy: init ## Scaffold deploy/MODEL/V<next>/ serving the best run: make new-deploy MODEL=WineForest [VERSION=2]
	$(PY) -m mlrepo new deploy $(MODEL) $(if $(VERSION),--version $(VERSION)) $(if $(PIPELINE_NAME),--pipeline $(PIPELINE_NAME))

new-project: init ## A new repository for another team: make new-project DEST=../acme NAME="Acme" DESCRIPTION="..." DIRECTOR=alice
	$(PY) -m mlrepo new project $(DEST) --name "$(NAME)" --description "$(DESCRIPTION)" --director "$(DIRECTOR)" $(ARGS)

new-update: init ## In a project made by new-project: bring in the template's later version, keeping local changes
	$(PY) -m mlrepo new update $(ARGS)
