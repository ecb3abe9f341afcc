namespace NwFilter.Commands.Completers;

/// <summary>Quoting for completion results: keep the user's quote, add one when the text needs it.</summary>
internal static class CompletionText
{
    internal static (string Text, char? Quote) Unquote(string word)
    {
        if (word.Length > 0 && word[0] is '\'' or '"')
        {
            var q = word[0];
            var inner = word[1..];
            return (inner.EndsWith(q) ? inner[..^1] : inner, q);
        }
        return (word, null);
    }

    internal static string Quote(string text, char? quote)
    {
        if (quote is null && text.IndexOfAny([' ', '$', '`', '\'', '"', ';', '(', ')', '{', '}', ',', '@', '#', '&', '|', '<', '>']) < 0)
        {
            return text;
        }
        return quote == '"' ? $"\"{text.Replace("`", "``").Replace("\"", "`\"").Replace("$", "`$")}\"" : $"'{text.Replace("'", "''")}'";
    }
}
