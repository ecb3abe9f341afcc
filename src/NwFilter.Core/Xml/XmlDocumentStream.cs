namespace NwFilter.Core.Xml;

/// <summary>
/// Cuts a text holding several XML documents one after another (the output of <c>virsh nwfilter-dumpxml</c> for several
/// filters, files concatenated, the lines of a file piped in) into its documents, without parsing them.
/// </summary>
internal static class XmlDocumentStream
{
    /// <summary>One top-level element of a stream, with its first line (1-based), or what is wrong there.</summary>
    internal sealed record Segment(string Text, int Line, bool IsWholeText, string? Error = null);

    /// <summary>
    /// Cuts a stream into its top-level elements. Between elements it skips whitespace, comments, XML declarations,
    /// processing instructions and DOCTYPEs (which the reader then refuses if they are inside). An element ends at its
    /// matching end tag, found by counting start and end tags outside comments, CDATA and quoted attribute values.
    /// </summary>
    internal static IEnumerable<Segment> Split(string text)
    {
        var pos = 0;
        var segments = new List<Segment>();
        var (counted, line) = (0, 1);
        int LineAt(int target)
        {
            for (; counted < target; counted++)
            {
                if (text[counted] == '\n')
                {
                    line++;
                }
            }
            return line;
        }
        while (true)
        {
            pos = SkipProlog(text, pos);
            if (pos >= text.Length)
            {
                break;
            }
            var at = LineAt(pos);
            if (text[pos] != '<')
            {
                var end = text.IndexOf('<', pos);
                end = end < 0 ? text.Length : end;
                segments.Add(new Segment(text[pos..end], at, false, $"unexpected text '{Shorten(text[pos..end].Trim())}' between documents"));
                pos = end;
                continue;
            }
            var close = FindElementEnd(text, pos);
            if (close < 0)
            {
                segments.Add(new Segment(text[pos..], at, false, "the document is not complete (no end tag)"));
                break;
            }
            segments.Add(new Segment(text[pos..close], at, false));
            pos = close;
        }
        if (segments.Count == 1 && segments[0].Error is null)
        {
            // A single document: hand the reader the whole text, so its line numbers are the file's.
            return [segments[0] with { Text = text, IsWholeText = true }];
        }
        return segments;
    }

    private static int SkipProlog(string text, int pos)
    {
        while (pos < text.Length)
        {
            if (char.IsWhiteSpace(text[pos]))
            {
                pos++;
            }
            else if (string.CompareOrdinal(text, pos, "<!--", 0, 4) == 0)
            {
                var end = text.IndexOf("-->", pos + 4, StringComparison.Ordinal);
                pos = end < 0 ? text.Length : end + 3;
            }
            else if (string.CompareOrdinal(text, pos, "<?", 0, 2) == 0)
            {
                var end = text.IndexOf("?>", pos + 2, StringComparison.Ordinal);
                pos = end < 0 ? text.Length : end + 2;
            }
            else if (pos == 0 && text[0] == '\uFEFF')
            {
                pos++;
            }
            else
            {
                break;
            }
        }
        return pos;
    }

    /// <summary>The index just after the element starting at <paramref name="start"/>, or -1.</summary>
    private static int FindElementEnd(string text, int start)
    {
        var depth = 0;
        var pos = start;
        while (pos < text.Length)
        {
            var lt = text.IndexOf('<', pos);
            if (lt < 0)
            {
                return -1;
            }
            if (string.CompareOrdinal(text, lt, "<!--", 0, 4) == 0)
            {
                var end = text.IndexOf("-->", lt + 4, StringComparison.Ordinal);
                if (end < 0)
                {
                    return -1;
                }
                pos = end + 3;
                continue;
            }
            if (string.CompareOrdinal(text, lt, "<![CDATA[", 0, 9) == 0)
            {
                var end = text.IndexOf("]]>", lt + 9, StringComparison.Ordinal);
                if (end < 0)
                {
                    return -1;
                }
                pos = end + 3;
                continue;
            }
            if (string.CompareOrdinal(text, lt, "<?", 0, 2) == 0 || string.CompareOrdinal(text, lt, "<!", 0, 2) == 0)
            {
                var end = text.IndexOf('>', lt + 2);
                if (end < 0)
                {
                    return -1;
                }
                pos = end + 1;
                continue;
            }
            var isEnd = lt + 1 < text.Length && text[lt + 1] == '/';
            // Find the tag's '>' outside quoted attribute values.
            var i = lt + 1;
            char quote = '\0';
            for (; i < text.Length; i++)
            {
                var c = text[i];
                if (quote != '\0')
                {
                    if (c == quote)
                    {
                        quote = '\0';
                    }
                }
                else if (c is '\'' or '"')
                {
                    quote = c;
                }
                else if (c == '>')
                {
                    break;
                }
            }
            if (i >= text.Length)
            {
                return -1;
            }
            var selfClosing = !isEnd && text[i - 1] == '/';
            if (isEnd)
            {
                depth--;
            }
            else if (!selfClosing)
            {
                depth++;
            }
            pos = i + 1;
            if (depth <= 0)
            {
                return pos;
            }
        }
        return -1;
    }

    private static string Shorten(string s) => s.Length <= 40 ? s : s[..37] + "...";
}
