import ReactMarkdown, { type Components } from "react-markdown";

/** Markdown from tools and models is untrusted: no raw HTML (skipHtml, no rehype-raw), no images loaded. */
const MARKDOWN_COMPONENTS: Components = {
  img: ({ alt }) => <span className="muted">[image{alt ? `: ${alt}` : ""}]</span>,
  a: ({ href, children }) => (
    <a href={href} rel="noopener noreferrer nofollow" target="_blank">
      {children}
    </a>
  ),
};

export function SafeMarkdown({ text, testId }: { text: string; testId?: string }) {
  return (
    <div className="markdown" data-testid={testId}>
      <ReactMarkdown skipHtml components={MARKDOWN_COMPONENTS}>
        {text}
      </ReactMarkdown>
    </div>
  );
}
