#include "completion.h"

#include <algorithm>

namespace sam2amg::cli {

namespace {

std::vector<const CLI::App*> subcommands_of(const CLI::App& app) {
  const std::vector<CLI::App*> all = const_cast<CLI::App&>(app).get_subcommands([](const CLI::App*) { return true; });
  return {all.begin(), all.end()};
}

// The option's spellings with dashes: long names, then short ones.
std::vector<std::string> spellings(const CLI::Option& opt) {
  std::vector<std::string> out;
  for (const std::string& n : opt.get_lnames()) out.push_back("--" + n);
  for (const std::string& n : opt.get_snames()) out.push_back("-" + n);
  return out;
}

std::string join(const std::vector<std::string>& words, const char* sep = " ") {
  std::string s;
  for (const std::string& w : words) s += (s.empty() ? "" : sep) + w;
  return s;
}

std::vector<std::string> flags_of(const CLI::App& app) {
  std::vector<std::string> out;
  for (const CLI::Option* opt : app.get_options())
    if (!opt->get_positional()) {
      const std::vector<std::string> s = spellings(*opt);
      out.insert(out.end(), s.begin(), s.end());
    }
  return out;
}

// case arms for the word before the cursor: an option's values, or (file names) nothing.
void value_arms(const CLI::App& app, const CliState& state, std::string& arms, std::vector<std::string>& plain) {
  for (const CLI::Option* opt : app.get_options()) {
    if (opt->get_positional() || opt->get_expected_max() == 0) continue;  // flags take no value
    const auto found = state.choices.find(opt);
    if (found == state.choices.end()) {
      const std::vector<std::string> s = spellings(*opt);
      plain.insert(plain.end(), s.begin(), s.end());
    } else {
      arms += "    " + join(spellings(*opt), "|") + ") COMPREPLY=($(compgen -W \"" + join(found->second) +
              "\" -- \"$cur\")); return ;;\n";
    }
  }
}

}  // namespace

std::string bash_completion(const CLI::App& app, const CliState& state) {
  std::vector<std::string> names;
  for (const CLI::App* sub : subcommands_of(app)) names.push_back(sub->get_name());
  std::string arms;
  std::vector<std::string> plain;
  value_arms(app, state, arms, plain);
  for (const CLI::App* sub : subcommands_of(app)) value_arms(*sub, state, arms, plain);
  std::sort(plain.begin(), plain.end());
  plain.erase(std::unique(plain.begin(), plain.end()), plain.end());

  std::string s =
      "# bash completion for sam2-amg, written by `sam2-amg completion bash` from the flags' own tables.\n"
      "_sam2_amg() {\n"
      "  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} sub= w\n"
      "  for w in \"${COMP_WORDS[@]:1:COMP_CWORD-1}\"; do\n"
      "    case $w in " + join(names, "|") + ") sub=$w; break ;; esac\n"
      "  done\n"
      "  case $prev in\n" + arms;
  if (!plain.empty()) s += "    " + join(plain, "|") + ") COMPREPLY=(); return ;;\n";
  s += "  esac\n"
       "  local opts=\"" + join(flags_of(app)) + "\"\n"
       "  case $sub in\n";
  for (const CLI::App* sub : subcommands_of(app)) {
    const std::vector<std::string> own = flags_of(*sub);
    std::vector<std::string> positional_words;
    for (const CLI::Option* opt : sub->get_options())
      if (opt->get_positional() && state.choices.count(opt)) positional_words = state.choices.at(opt);
    s += "    " + sub->get_name() + ") opts=\"$opts " + join(own) + "\"";
    if (!positional_words.empty())
      s += "; [[ $cur != -* ]] && { COMPREPLY=($(compgen -W \"" + join(positional_words) + "\" -- \"$cur\")); return; }";
    s += " ;;\n";
  }
  s += "  esac\n"
       "  if [[ $cur == -* ]]; then\n"
       "    COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
       "  elif [[ -z $sub ]]; then\n"
       "    COMPREPLY=($(compgen -W \"" + join(names) + "\" -- \"$cur\"))\n"
       "  fi\n"
       "}\n"
       "complete -o default -F _sam2_amg sam2-amg\n";
  return s;
}

}  // namespace sam2amg::cli
